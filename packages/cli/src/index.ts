export { createApiKey } from "./keys.js";
export type { NatsRole } from "./nats-config.js";
export { renderNatsConfig, rolePermissions } from "./nats-config.js";
export type { OpsEndpoint, ServiceName, Stack, StackOptions } from "./stack.js";
export { REPO_ROOT, serviceEntry, startStack } from "./stack.js";
