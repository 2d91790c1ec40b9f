/**
 * Credential-proxy configuration: the only file that reads the environment. Holds the master key
 * material, which is never logged.
 */
import { readFileSync } from "node:fs";
import { BusEnv, LogLevelEnv } from "@tendon/bus";
import { z } from "zod";

export const Env = BusEnv.extend({
  /** Its own database URL and role; falls back to DATABASE_URL for single-role setups (dev). */
  CREDENTIALS_DATABASE_URL: z.string().optional(),
  DATABASE_URL: z.string().optional(),
  TENDON_CREDENTIALS_SCHEMA: z.string().regex(/^[a-z_][a-z0-9_]*$/).default("credentials"),
  TENDON_MIGRATE_ON_START: z.enum(["true", "false", "1", "0"]).transform((v) => v === "true" || v === "1").default(true),
  /** 32 bytes, base64 or hex. Or TENDON_MASTER_KEY_FILE. */
  TENDON_MASTER_KEY: z.string().optional(),
  TENDON_MASTER_KEY_FILE: z.string().optional(),
  /** Comma-separated previous keys, accepted for decryption while rotating. */
  TENDON_MASTER_KEYS_OLD: z.string().optional(),
  LOG_LEVEL: LogLevelEnv,
})
  .refine((e) => e.CREDENTIALS_DATABASE_URL || e.DATABASE_URL, { message: "CREDENTIALS_DATABASE_URL (or DATABASE_URL) is required" })
  .refine((e) => e.TENDON_MASTER_KEY || e.TENDON_MASTER_KEY_FILE, { message: "TENDON_MASTER_KEY or TENDON_MASTER_KEY_FILE is required" });
export type CredentialProxyEnv = z.infer<typeof Env>;

export function loadConfig(env: NodeJS.ProcessEnv): CredentialProxyEnv {
  return Env.parse(env);
}

export function masterKeyText(cfg: CredentialProxyEnv): string {
  return cfg.TENDON_MASTER_KEY ?? readFileSync(cfg.TENDON_MASTER_KEY_FILE!, "utf8");
}
