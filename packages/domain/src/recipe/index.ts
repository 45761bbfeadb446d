export * from "./model.js";
export * from "./recipe.js";
export { check as checkShape, orderLike, RECIPE_SHAPE } from "./schema.js";
export * from "./report.js";
