export type { SandboxManagerConfig, SandboxManagerDeps, SandboxManagerService } from "./app.js";
export { createSandboxManager, SANDBOX_TOOLS } from "./app.js";
export { loadConfig } from "./config.js";
