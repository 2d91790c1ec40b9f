/**
 * Work items of self-hosted environments and the pollers seen per environment.
 */

import type { Cursor } from "@tendon/contracts";
import { NotFoundError } from "@tendon/contracts";
import type { WorkItemRow } from "@tendon/db";
import { sql } from "@tendon/db";
import type { Executor } from "./executor.js";

export const LIVE_STATES = ["queued", "starting", "active"] as const;

/** Queues an item for the session unless one is live; true when one was created. */
export async function ensureLiveItem(
  db: Executor,
  sessionId: string,
  environmentId: string,
  id: string,
  now: Date,
): Promise<boolean> {
  const live = await db
    .selectFrom("work_items")
    .select("id")
    .where("session_id", "=", sessionId)
    .where("state", "in", [...LIVE_STATES])
    .executeTakeFirst();
  if (live) return false;
  await db
    .insertInto("work_items")
    .values({
      id,
      environment_id: environmentId,
      session_id: sessionId,
      state: "queued",
      metadata: "{}",
      created_at: now,
    })
    .execute();
  return true;
}

/** Hands out the oldest queued item that nobody holds (or whose poll was never acked in time). */
export async function claim(
  db: Executor,
  environmentId: string,
  workerId: string,
  reclaimMs: number,
  now: Date,
): Promise<WorkItemRow | undefined> {
  const candidate = await db
    .selectFrom("work_items")
    .select("id")
    .where("environment_id", "=", environmentId)
    .where("state", "=", "queued")
    .where((eb) =>
      eb.or([eb("polled_at", "is", null), eb("polled_at", "<", new Date(now.getTime() - reclaimMs))]),
    )
    .orderBy("created_at")
    .limit(1)
    .forUpdate()
    .skipLocked()
    .executeTakeFirst();
  if (!candidate) return undefined;
  return db
    .updateTable("work_items")
    .set({ polled_at: now, polled_by: workerId || null })
    .where("id", "=", candidate.id)
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function getItem(
  db: Executor,
  environmentId: string,
  id: string,
  opts: { forUpdate?: boolean } = {},
): Promise<WorkItemRow> {
  let q = db
    .selectFrom("work_items")
    .selectAll()
    .where("id", "=", id)
    .where("environment_id", "=", environmentId);
  if (opts.forUpdate) q = q.forUpdate();
  const row = await q.executeTakeFirst();
  if (!row) throw new NotFoundError(`work item ${id} not found in environment ${environmentId}`);
  return row;
}

export type ItemPatch = Partial<
  Omit<WorkItemRow, "id" | "environment_id" | "session_id" | "created_at" | "metadata">
> & {
  metadata?: Record<string, string>;
};

export async function updateItem(db: Executor, id: string, patch: ItemPatch): Promise<WorkItemRow> {
  const { metadata, ...rest } = patch;
  return db
    .updateTable("work_items")
    .set({ ...rest, ...(metadata ? { metadata: JSON.stringify(metadata) } : {}) })
    .where("id", "=", id)
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function recordPoller(
  db: Executor,
  environmentId: string,
  workerId: string,
  now: Date,
): Promise<void> {
  if (!workerId) return;
  await db
    .insertInto("work_pollers")
    .values({ environment_id: environmentId, worker_id: workerId, last_seen: now })
    .onConflict((oc) => oc.columns(["environment_id", "worker_id"]).doUpdateSet({ last_seen: now }))
    .execute();
}

export async function listItems(
  db: Executor,
  environmentId: string,
  limit: number,
  after?: Cursor,
): Promise<WorkItemRow[]> {
  let q = db.selectFrom("work_items").selectAll().where("environment_id", "=", environmentId);
  if (after) {
    const [ts, id] = after.k as [string, string];
    q = q.where(sql<boolean>`(created_at, id) < (${new Date(ts)}, ${id})`);
  }
  return q.orderBy("created_at", "desc").orderBy("id", "desc").limit(limit).execute();
}

export async function stats(db: Executor, environmentId: string, now: Date, reclaimMs: number) {
  const r = await db
    .selectFrom("work_items")
    .select([
      sql<number>`count(*) filter (where polled_at is null or polled_at < ${new Date(now.getTime() - reclaimMs)})`.as(
        "depth",
      ),
      sql<number>`count(*) filter (where polled_at >= ${new Date(now.getTime() - reclaimMs)})`.as("pending"),
      sql<Date | null>`min(created_at)`.as("oldest"),
    ])
    .where("environment_id", "=", environmentId)
    .where("state", "=", "queued")
    .executeTakeFirstOrThrow();
  const pollers = await db
    .selectFrom("work_pollers")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .where("environment_id", "=", environmentId)
    .where("last_seen", ">", new Date(now.getTime() - 30_000))
    .executeTakeFirstOrThrow();
  return { depth: Number(r.depth), pending: Number(r.pending), oldest: r.oldest, pollers: Number(pollers.n) };
}

/** Active items whose heartbeats lapsed go back to the queue (the old holder then gets 412s). */
export async function requeueExpired(
  db: Executor,
  now: Date,
): Promise<Array<{ id: string; environment_id: string }>> {
  return db
    .updateTable("work_items")
    .set({
      state: "queued",
      polled_at: null,
      polled_by: null,
      last_heartbeat: null,
      lease_expires_at: null,
      acknowledged_at: null,
    })
    .where("state", "in", ["starting", "active"])
    .where("lease_expires_at", "<", now)
    .returning(["id", "environment_id"])
    .execute();
}

/** Asks the session's workers to let go (archive, delete, termination). */
export async function stopSessionItems(db: Executor, sessionId: string, now: Date): Promise<void> {
  await db
    .updateTable("work_items")
    .set({ state: "stopped", stopped_at: now })
    .where("session_id", "=", sessionId)
    .where("state", "=", "queued")
    .execute();
  await db
    .updateTable("work_items")
    .set({ state: "stopping", stop_requested_at: now })
    .where("session_id", "=", sessionId)
    .where("state", "in", ["starting", "active"])
    .execute();
}
