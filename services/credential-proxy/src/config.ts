/**
 * Credential-proxy configuration: the only file that reads the environment. Holds the master key
 * material, which is never logged.
 */
import { readFileSync } from "node:fs";
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
  /** Its own database URL and role; falls back to DATABASE_URL for single-role setups (dev). */
  CREDENTIALS_DATABASE_URL: z.string().optional(),
  DATABASE_URL: z.string().optional(),
  TENDON_CREDENTIALS_SCHEMA: z
    .string()
    .regex(/^[a-z_][a-z0-9_]*$/)
    .default("credentials"),
  TENDON_MIGRATE_ON_START: z
    .enum(["true", "false", "1", "0"])
    .transform((v) => v === "true" || v === "1")
    .default(true),
  /** 32 bytes, base64 or hex. Or TENDON_MASTER_KEY_FILE. */
  TENDON_MASTER_KEY: z.string().optional(),
  TENDON_MASTER_KEY_FILE: z.string().optional(),
  /** Comma-separated previous keys, accepted for decryption while rotating. */ TENDON_MASTER_KEYS_OLD: z
    .string()
    .optional(),
  /** The egress proxy for sandboxes (with TENDON_EGRESS_SECRET, shared with the sandbox-manager). */
  TENDON_EGRESS_HOST: z.string().default("0.0.0.0"),
  TENDON_EGRESS_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  TENDON_EGRESS_SECRET: EgressSecret.optional(),
  /** JSON {"host": "ip:port"}: where to really connect for some hosts (split-horizon DNS, tests). */ TENDON_EGRESS_HOST_OVERRIDES:
    z
      .string()
      .transform((v, ctx) => {
        try {
          return z.record(z.string(), z.string().regex(/^[^:]+:\d{1,5}$/)).parse(JSON.parse(v));
        } catch {
          ctx.addIssue({ code: "custom", message: 'must be a JSON object like {"host": "ip:port"}' });
          return z.NEVER;
        }
      })
      .optional(),
  /** PEM file of extra CAs trusted for upstream TLS (private upstreams, tests). */
  TENDON_EGRESS_EXTRA_CA_FILE: z.string().optional(),
  LOG_LEVEL: LogLevelEnv,
})
  .refine((e) => e.CREDENTIALS_DATABASE_URL || e.DATABASE_URL, {
    message: "CREDENTIALS_DATABASE_URL (or DATABASE_URL) is required",
  })
  .refine((e) => e.TENDON_MASTER_KEY || e.TENDON_MASTER_KEY_FILE, {
    message: "TENDON_MASTER_KEY or TENDON_MASTER_KEY_FILE is required",
  });
export type CredentialProxyEnv = z.infer<typeof Env>;

export function loadConfig(env: NodeJS.ProcessEnv): CredentialProxyEnv {
  return Env.parse(env);
}

export function masterKeyText(cfg: CredentialProxyEnv): string {
  return cfg.TENDON_MASTER_KEY ?? readFileSync(cfg.TENDON_MASTER_KEY_FILE!, "utf8");
}
