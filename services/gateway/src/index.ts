export type { Gateway, GatewayConfig, GatewayDeps } from "./app.js";
export { createGateway } from "./app.js";
export { loadConfig } from "./config.js";
