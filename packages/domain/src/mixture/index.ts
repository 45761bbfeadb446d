export * from "./permute.js";
export * from "./plan.js";
export * from "./report.js";
export * from "./sampler.js";
export * from "./resolve.js";
export * from "./sequence-batch.js";
