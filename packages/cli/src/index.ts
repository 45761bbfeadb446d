export { buildProgram, main } from "./main.js";
export { Client, ApiError } from "./client.js";
