export { OpsEnv } from "./env.js";
export type { Counter, Gauge, Histogram, Metrics, Registry } from "./metrics.js";
export { createMetrics, LATENCY_BUCKETS_SECONDS } from "./metrics.js";
export type { OpsHandler, OpsHandlerOptions, OpsServer, OpsServerOptions } from "./ops-server.js";
export { createOpsHandler, opsReadyFields, startOps, startOpsServer } from "./ops-server.js";
export type { NatsLike, ReadinessCheck, ReadinessResult } from "./readiness.js";
export { databaseCheck, natsCheck, runChecks } from "./readiness.js";
export type { HandledInfo, HandledObserver } from "./rpc.js";
export { combineObservers, rpcMetricsObserver } from "./rpc.js";
