export type { SessionLogDeps, SessionLogService } from "./app.js";
export { createSessionLog } from "./app.js";
export { loadConfig } from "./config.js";
export type { SessionLogConfig } from "./context.js";
export type { SessionState } from "./domain/projection.js";
export { applyEvent, fold, initialState } from "./domain/projection.js";
