export type { Clock } from "./clock.js";
export { systemClock } from "./clock.js";
export type { IdGen } from "./ids.js";
export { randomBase62, randomIds } from "./ids.js";
export type { LogFields, Logger, LoggerOptions, LogLevel } from "./logger.js";
export { createLogger, maskSecrets, serializeError, silentLogger, wideEventLogger } from "./logger.js";
export { announceReady, handleShutdown } from "./shutdown.js";
