/**
 * The NATS part of every service's configuration, defined once. Each service's config.ts extends
 * it; `busOptions` turns it into connection options.
 */
import { inboxPrefixOf } from "@tendon/contracts";
import { z } from "zod";
import type { BusOptions } from "./bus.js";

export const BusEnv = z.object({
  NATS_URL: z.string().default("nats://127.0.0.1:4222"),
  NATS_USER: z.string().optional(),
  NATS_PASSWORD: z.string().optional(),
  NATS_TOKEN: z.string().optional(),
  TENDON_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, "letters, digits, _ and -, dot-separated")
    .default("tendon"),
});
export type BusEnv = z.infer<typeof BusEnv>;

export const LogLevelEnv = z.enum(["debug", "info", "warn", "error", "silent"]).default("info");

/** The NATS role (user) each service runs as, as `tendon nats-config` names them. */
const ROLE_OF: Record<string, string> = {
  gateway: "gateway",
  "session-log": "session_log",
  "harness-worker": "harness",
  "sandbox-manager": "sandbox_manager",
  "credential-proxy": "credential_proxy",
};

export function busOptions(cfg: BusEnv, name: string, onStatus?: BusOptions["onStatus"]): BusOptions {
  const role = ROLE_OF[name];
  return {
    servers: cfg.NATS_URL,
    name: `${name}-${process.pid}`,
    prefix: cfg.TENDON_PREFIX,
    ...(role ? { inboxPrefix: inboxPrefixOf(role) } : {}),
    ...(cfg.NATS_USER ? { user: cfg.NATS_USER, pass: cfg.NATS_PASSWORD ?? "" } : {}),
    ...(cfg.NATS_TOKEN ? { token: cfg.NATS_TOKEN } : {}),
    ...(onStatus ? { onStatus } : {}),
  };
}
