export * from "./db.js";
export * from "./redis.js";
export * from "./s3.js";
export * from "./http.js";
export * from "./wait.js";
