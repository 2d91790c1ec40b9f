/**
 * Session-log configuration: the only file that reads the environment.
 */
import { BusEnv, LogLevelEnv } from "@tendon/bus";
import { OpsEnv } from "@tendon/observability";
import { TracingEnv } from "@tendon/tracing";
import { z } from "zod";

const Bool = z.enum(["true", "false", "1", "0"]).transform((v) => v === "true" || v === "1");

export const Env = BusEnv.extend({
  /** OpenTelemetry tracing: the standard OTEL_* variables (README, "Traces"). */
  ...TracingEnv.shape,
  /** The ops listener (/healthz, /readyz, /metrics): OPS_PORT unset = none, 0 = a free port. */
  ...OpsEnv.shape,
  DATABASE_URL: z.string().min(1, "DATABASE_URL is required (postgres://user@host:port/db)"),
  TENDON_DB_SCHEMA: z
    .string()
    .regex(/^[a-z_][a-z0-9_]*$/)
    .default("session_log"),
  TENDON_DB_POOL_MAX: z.coerce.number().int().min(1).max(200).default(10),
  TENDON_MIGRATE_ON_START: Bool.default(true),
  TENDON_SWEEP_INTERVAL_MS: z.coerce.number().int().min(0).default(200),
  TENDON_SWEEP_GRACE_MS: z.coerce.number().int().min(0).default(300),
  /** How often an orphaned session is woken again while no worker has taken it. */
  TENDON_SWEEP_REWAKE_MS: z.coerce.number().int().min(100).default(500),
  /**
   * A deliberately broken build, for the chaos suite's own test only: harness appends skip the
   * lease-epoch check and their idempotency keys are scoped to the writer's epoch, so a stale
   * worker's writes land. Never set it anywhere else.
   */
  TENDON_UNSAFE_DISABLE_FENCING: Bool.default(false),
  LOG_LEVEL: LogLevelEnv,
});
export type SessionLogEnv = z.infer<typeof Env>;

export function loadConfig(env: NodeJS.ProcessEnv): SessionLogEnv {
  return Env.parse(env);
}
