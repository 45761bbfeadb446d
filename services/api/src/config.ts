import { coreConfigFromEnv, envInt, type CoreConfig, type Env } from "@tokenmill/domain";
import { sourcePolicyFromEnv, type SourcePolicy } from "@tokenmill/storage";

/** The API's environment, parsed once. Nothing else in the API reads process.env. */
export interface ApiConfig extends CoreConfig {
  /** Listen address; loopback by default. */
  host: string;
  /** Listen port (default 8080). */
  port: number;
  /**
   * What sources and file-naming pipeline parameters may read (FILE_SOURCE_ROOTS, HTTP_SOURCE_ALLOW,
   * S3_SOURCE_BUCKETS): by default no file:// at all and public http(s) addresses only.
   */
  sourcePolicy: SourcePolicy;
}

export function loadApiConfig(env: Env, cwd = process.cwd()): ApiConfig {
  return {
    ...coreConfigFromEnv(env, cwd),
    host: env.HOST || "127.0.0.1",
    port: envInt(env, "PORT", 8080),
    sourcePolicy: sourcePolicyFromEnv(env, cwd),
  };
}
