export * from "./store.js";
export { FileStore } from "./file-store.js";
export { S3Store, createS3Client, type S3ConnectionOptions, type S3StoreOptions } from "./s3-store.js";
export { openStore } from "./open-store.js";
export { inputIdentity, listInputs, listManyInputs, openInput, sha256OfInput } from "./inputs.js";
export type { ByteRange, InputFile, InputOptions } from "./input-common.js";
export { fileUriToPath, pathToFileUri, parseS3Uri } from "./uri.js";
export { globToRegExp } from "./glob.js";
export { classifyAddress, inCidr, normalizeHost, parseCidr, parseIp, type AddressClass } from "./guard/address.js";
export {
  DEFAULT_SOURCE_POLICY,
  LOCAL_SOURCE_POLICY,
  sourcePolicyFromEnv,
  type SourcePolicy,
} from "./guard/policy.js";
export { guardPath } from "./guard/file-guard.js";
export { NOT_REACHABLE } from "./guard/http-request.js";
