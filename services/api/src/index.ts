export { buildApp, type App } from "./app.js";
export { loadApiConfig, type ApiConfig } from "./config.js";
