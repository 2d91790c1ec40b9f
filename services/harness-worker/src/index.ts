export type { HarnessConfig, HarnessDeps, HarnessWorker } from "./app.js";
export { createHarnessWorker } from "./app.js";
export { loadConfig } from "./config.js";
export { classifyModelError, createAnthropicModel } from "./model/anthropic.js";
export type { LlmPort, ModelRequest, ModelResult } from "./model/port.js";
export { buildMessages, buildRequest, customToolDefinitions } from "./turn/context.js";
export { decide, derive, readLog } from "./turn/derive.js";
export { agentToolDefinitions } from "./turn/tools.js";
