/**
 * Gateway configuration: the only file that reads the environment.
 */
import { BusEnv, LogLevelEnv } from "@tendon/bus";
import { OpsEnv } from "@tendon/observability";
import { TracingEnv } from "@tendon/tracing";
import { z } from "zod";

export const Env = BusEnv.extend({
  /** OpenTelemetry tracing: the standard OTEL_* variables (README, "Traces"). */
  ...TracingEnv.shape,
  /** The ops listener (/healthz, /readyz, /metrics): OPS_PORT unset = none, 0 = a free port. */
  ...OpsEnv.shape,
  HOST: z.string().default("0.0.0.0"),
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  TENDON_MAX_BODY_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .default(32 * 1024 * 1024),
  TENDON_AUTH_CACHE_MS: z.coerce.number().int().min(0).default(30_000),
  TENDON_SSE_PING_MS: z.coerce.number().int().min(100).default(15_000),
  TENDON_SSE_MAX_BUFFERED_BYTES: z.coerce
    .number()
    .int()
    .min(65_536)
    .default(8 * 1024 * 1024),
  LOG_LEVEL: LogLevelEnv,
});
export type GatewayEnv = z.infer<typeof Env>;

export function loadConfig(env: NodeJS.ProcessEnv): GatewayEnv {
  return Env.parse(env);
}
