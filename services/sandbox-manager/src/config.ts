/**
 * Sandbox-manager configuration: the only file that reads the environment.
 */
import { BusEnv, LogLevelEnv } from "@tendon/bus";
import { EgressSecret } from "@tendon/egress";
import { OpsEnv } from "@tendon/observability";
import { TracingEnv } from "@tendon/tracing";
import { z } from "zod";

export const Env = BusEnv.extend({
  /** OpenTelemetry tracing: the standard OTEL_* variables (README, "Traces"). */
  ...TracingEnv.shape,
  /** The ops listener (/healthz, /readyz, /metrics): OPS_PORT unset = none, 0 = a free port. */
  ...OpsEnv.shape,
  /** process (bubblewrap here), docker (a container per sandbox) or kubernetes (a pod per sandbox). */
  TENDON_SANDBOX_PROVIDER: z.enum(["process", "docker", "kubernetes"]).default("process"),
  /** docker/kubernetes: the image built from the root Dockerfile's `sandbox` target. */
  TENDON_SANDBOX_IMAGE: z.string().min(1).default("tendon/sandbox:dev"),
  /** docker/kubernetes: CPUs per sandbox (fractional). */
  TENDON_SANDBOX_CPUS: z.coerce.number().positive().optional(),
  /** docker: an OCI runtime (e.g. runsc); kubernetes: a RuntimeClass name (e.g. gvisor). */
  TENDON_SANDBOX_RUNTIME: z.string().min(1).optional(),
  /** kubernetes: the namespace sandbox pods are made in. */
  TENDON_SANDBOX_NAMESPACE: z.string().min(1).default("tendon"),
  /** kubernetes: "podIP:port" of this manager's egress relay (unset = sandbox pods get no egress). */
  TENDON_SANDBOX_RELAY_ADDR: z
    .string()
    .regex(/^[^:]+:\d{1,5}$/, "host:port")
    .optional(),
  TENDON_SANDBOX_DIR: z.string().default("/tmp/tendon-sandboxes"),
  TENDON_SANDBOX_IDLE_MS: z.coerce.number().int().min(1000).default(600_000),
  TENDON_SANDBOX_MEMORY_MB: z.coerce.number().int().min(16).optional(),
  TENDON_SANDBOX_CPU_SECONDS: z.coerce.number().int().min(1).optional(),
  TENDON_SANDBOX_MAX_PROCESSES: z.coerce.number().int().min(4).optional(),
  TENDON_SANDBOX_CALL_TIMEOUT_MS: z.coerce.number().int().min(100).optional(),
  TENDON_SANDBOX_OUTPUT_BYTES: z.coerce.number().int().min(1024).optional(),
  TENDON_SANDBOX_DISK_MB: z.coerce.number().int().min(1).optional(),
  /** Benchmarks: delay every sandbox start (simulates slow container providers). */
  TENDON_SANDBOX_START_DELAY_MS: z.coerce.number().int().min(0).default(0),
  TENDON_SANDBOX_START_JITTER_MS: z.coerce.number().int().min(0).default(0),
  /** host:port of the credential-proxy's egress listener; unset = sandboxes have no network. */
  TENDON_EGRESS_ADDR: z
    .string()
    .regex(/^[^:]+:\d+$/, "host:port")
    .optional(),
  /** Shared with the credential-proxy (base64, ≥ 32 bytes): signs sandbox identities. */ TENDON_EGRESS_SECRET:
    EgressSecret.optional(),
  LOG_LEVEL: LogLevelEnv,
});
export type SandboxManagerEnv = z.infer<typeof Env>;

export function loadConfig(env: NodeJS.ProcessEnv): SandboxManagerEnv {
  return Env.parse(env);
}
