/**
 * The self-hosted environment work queue (spec §3.3, §5): work items, heartbeats and stats.
 *
 * State machine (spec §5.5): queued → (polled: pending, reclaimable) → starting (ack) → active
 * (first heartbeat) → stopping (stop without force) → stopped; `force` stops from anywhere; an
 * active item whose heartbeats lapse goes back to queued.
 */
import { z } from "zod";
import { Metadata, MetadataPatch, Timestamp } from "../common.js";

export const WorkState = z.enum(["queued", "starting", "active", "stopping", "stopped"]);
export type WorkState = z.infer<typeof WorkState>;

export const Work = z.object({
  id: z.string(),
  type: z.literal("work"),
  environment_id: z.string(),
  data: z.object({ type: z.enum(["session", "healthcheck"]), id: z.string() }),
  state: WorkState,
  /** base64url JSON `{sessions_token}`; only on the poll that hands the item out. */
  secret: z.string().nullable(),
  metadata: Metadata,
  created_at: Timestamp,
  acknowledged_at: Timestamp.nullable(),
  started_at: Timestamp.nullable(),
  latest_heartbeat_at: Timestamp.nullable(),
  stop_requested_at: Timestamp.nullable(),
  stopped_at: Timestamp.nullable(),
});
export type Work = z.infer<typeof Work>;

export const NO_HEARTBEAT = "NO_HEARTBEAT";

export const WorkHeartbeat = z.object({
  type: z.literal("work_heartbeat"),
  last_heartbeat: z.string(),
  lease_extended: z.boolean(),
  state: WorkState,
  ttl_seconds: z.number().int(),
});
export type WorkHeartbeat = z.infer<typeof WorkHeartbeat>;

export const WorkStats = z.object({
  type: z.literal("work_queue_stats"),
  depth: z.number().int(),
  pending: z.number().int(),
  oldest_queued_at: Timestamp.nullable(),
  workers_polling: z.number().int().nullable(),
});

export const WorkPollQuery = z.object({
  block_ms: z.coerce.number().int().min(0).max(999).optional(),
  reclaim_older_than_ms: z.coerce.number().int().min(0).max(3_600_000).optional(),
});

export const WorkHeartbeatQuery = z.object({
  expected_last_heartbeat: z.string().min(1).max(64),
  desired_ttl_seconds: z.coerce.number().int().min(1).max(3600).optional(),
});

export const WorkStopParams = z.strictObject({ force: z.boolean().nullable().optional() });
export const WorkUpdateParams = z.strictObject({ metadata: MetadataPatch.optional() });
export const WorkListQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).optional(),
  page: z.string().max(2048).optional(),
});

/** What the per-item `secret` decodes to (SDK `BetaWorkSecret`). */
export const WorkSecret = z.object({ sessions_token: z.string(), api_base_url: z.string().optional() });

export function encodeWorkSecret(s: z.infer<typeof WorkSecret>): string {
  return Buffer.from(JSON.stringify(s)).toString("base64url");
}

export const EnvironmentKeyCreateParams = z.strictObject({ name: z.string().min(1).max(256).optional() });
export const EnvironmentKey = z.object({
  id: z.string(),
  type: z.literal("environment_key"),
  environment_id: z.string(),
  name: z.string(),
  key: z.string(),
  created_at: Timestamp,
});
