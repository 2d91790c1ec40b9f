/**
 * The ops listener's part of every service's configuration. Each service's config.ts spreads
 * `OpsEnv.shape` into its own schema (config.ts stays the only reader of the environment).
 *
 * `OPS_PORT` unset or empty: no ops listener. `0`: a free port, announced on the ready line as
 * `ops_url`. Deployments use 9464 (the Prometheus exporter convention).
 */
import { z } from "zod";

export const OpsEnv = z.object({
  OPS_PORT: z.preprocess(
    (v) => (typeof v === "string" && v.trim() === "" ? undefined : v),
    z.coerce.number().int().min(0).max(65535).optional(),
  ),
  OPS_HOST: z.string().min(1).default("0.0.0.0"),
});
export type OpsEnv = z.infer<typeof OpsEnv>;
