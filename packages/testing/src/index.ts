/**
 * @tendon/testing: fixtures that find or start NATS and PostgreSQL, per-test databases and
 * NATS prefixes, `waitFor`, and managed child processes. Real runtime code: `tendon dev` uses
 * the same launchers on a developer machine without NATS_URL/DATABASE_URL.
 */
export { createDatabase, type TestDatabase, withDatabase } from "./database.js";
export { type Infra, type ResolveInfraOptions, resolveInfra } from "./infra.js";
export { cleanupNats, streamNamePrefix, uniquePrefix } from "./nats.js";
export { type LocalNats, type LocalNatsOptions, NATS_NOT_FOUND, startLocalNats } from "./nats-local.js";
export { freePort } from "./ports.js";
export {
  type EmbeddedPostgres,
  type EmbeddedPostgresOptions,
  POSTGRES_NOT_FOUND,
  type PostgresBinarySource,
  startEmbeddedPostgres,
} from "./postgres-embedded.js";
export { type ManagedProcess, type ProcessExit, type SpawnOptions, spawnProcess } from "./process.js";
export { type WaitForOptions, WaitTimeoutError, waitFor } from "./wait.js";
