export * from "./artifact.js";
export * from "./model.js";
export * from "./store.js";
export * from "./train-process.js";
