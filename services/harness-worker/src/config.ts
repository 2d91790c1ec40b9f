/**
 * Harness-worker configuration: the only file that reads the environment. The model endpoint is
 * chosen by ANTHROPIC_BASE_URL / ANTHROPIC_API_KEY / ANTHROPIC_AUTH_TOKEN, as the SDK reads them.
 *
 * Lease timing: a worker heartbeats every HARNESS_HEARTBEAT_MS and its leases live
 * HARNESS_LEASE_TTL_MS past the last beat. The TTL only decides how soon a frozen or partitioned
 * worker loses its sessions: a killed one is found by its presence subject within a sweep (README,
 * "Recovery after a worker dies"). So the TTL is long enough (5 s) to ride out a starved CPU, a
 * busy session-log or a NATS restart without leases lapsing and sessions bouncing between workers.
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
  ANTHROPIC_BASE_URL: z.string().url().optional(),
  ANTHROPIC_API_KEY: z.string().optional(),
  ANTHROPIC_AUTH_TOKEN: z.string().optional(),
  HARNESS_CONCURRENCY: z.coerce.number().int().min(1).max(10_000).default(64),
  HARNESS_MAX_TOKENS: z.coerce.number().int().min(1).default(8192),
  HARNESS_MODEL_TIMEOUT_MS: z.coerce.number().int().min(1000).default(600_000),
  HARNESS_MODEL_MAX_RETRIES: z.coerce.number().int().min(0).max(20).default(4),
  HARNESS_MODEL_BACKOFF_BASE_MS: z.coerce.number().int().min(0).default(1_000),
  HARNESS_MODEL_BACKOFF_MAX_MS: z.coerce.number().int().min(0).default(30_000),
  HARNESS_TOOL_DEADLINE_MS: z.coerce.number().int().min(100).default(120_000),
  HARNESS_LEASE_TTL_MS: z.coerce.number().int().min(200).default(5_000),
  HARNESS_HEARTBEAT_MS: z.coerce.number().int().min(50).default(1_000),
  HARNESS_ACK_WAIT_MS: z.coerce.number().int().min(1000).default(10_000),
  HARNESS_MAX_DELIVER: z.coerce.number().int().min(1).default(8),
  HARNESS_SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).default(10_000),
  LOG_LEVEL: LogLevelEnv,
}).superRefine((e, ctx) => {
  if (e.HARNESS_HEARTBEAT_MS * 2 > e.HARNESS_LEASE_TTL_MS) {
    ctx.addIssue({
      code: "custom",
      message: "HARNESS_HEARTBEAT_MS must be at most half of HARNESS_LEASE_TTL_MS",
    });
  }
});
export type HarnessEnv = z.infer<typeof Env>;

export function loadConfig(env: NodeJS.ProcessEnv): HarnessEnv {
  return Env.parse(env);
}
