import { coreConfigFromEnv, envBool, envInt, type CoreConfig, type Env } from "@tokenmill/domain";

/** The API's environment, parsed once. Nothing else in the API reads process.env. */
export interface ApiConfig extends CoreConfig {
  /** Listen address; loopback by default. */
  host: string;
  /** Listen port (default 8080). */
  port: number;
  /** Allow `file://` sources, i.e. reading the server's own disk (default true, for single-machine use). */
  allowFileSources: boolean;
}

export function loadApiConfig(env: Env, cwd = process.cwd()): ApiConfig {
  return {
    ...coreConfigFromEnv(env, cwd),
    host: env.HOST || "127.0.0.1",
    port: envInt(env, "PORT", 8080),
    allowFileSources: envBool(env, "ALLOW_FILE_SOURCES", true),
  };
}
