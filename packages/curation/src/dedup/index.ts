export * from "./config.js";
export * from "./minhash.js";
export * from "./records.js";
export * from "./task-file.js";
export * from "./partition.js";
export * from "./cluster.js";
export * from "./step.js";
export * from "./passes.js";
