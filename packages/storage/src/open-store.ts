import { ValidationError } from "@tokenmill/domain";
import { FileStore } from "./file-store.js";
import { type S3ConnectionOptions, S3Store } from "./s3-store.js";
import type { ObjectStore } from "./store.js";
import { fileUriToPath, parseS3Uri, schemeOf } from "./uri.js";

/**
 * The store a configuration URI names: `file:///var/lib/tokenmill` (or a plain absolute path) is a
 * FileStore; `s3://bucket/prefix` an S3Store reached with `s3`'s connection options.
 */
export function openStore(uri: string, s3: S3ConnectionOptions = {}): ObjectStore {
  switch (schemeOf(uri)) {
    case "file:":
      return new FileStore(fileUriToPath(uri));
    case "s3:": {
      const { bucket, key } = parseS3Uri(uri);
      return new S3Store({ ...s3, bucket, prefix: key });
    }
    default:
      throw new ValidationError(
        `unsupported store URI ${JSON.stringify(uri)}: use file:///absolute/path, an absolute path or s3://bucket/prefix`,
      );
  }
}
