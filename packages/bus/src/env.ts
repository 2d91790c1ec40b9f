/**
 * The NATS part of every service's configuration, defined once. Each service's config.ts extends
 * it; `busOptions` turns it into connection options.
 */
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

export function busOptions(cfg: BusEnv, name: string, onStatus?: BusOptions["onStatus"]): BusOptions {
  return {
    servers: cfg.NATS_URL,
    name: `${name}-${process.pid}`,
    prefix: cfg.TENDON_PREFIX,
    ...(cfg.NATS_USER ? { user: cfg.NATS_USER, pass: cfg.NATS_PASSWORD ?? "" } : {}),
    ...(cfg.NATS_TOKEN ? { token: cfg.NATS_TOKEN } : {}),
    ...(onStatus ? { onStatus } : {}),
  };
}
