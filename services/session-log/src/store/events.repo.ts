/**
 * The append-only event log. Rows are read by `(session_id, seq)`; `seq` is gap-free per session
 * because it is assigned under the session row's lock in the appending transaction.
 */
import type { EventListQuery, SessionEvent } from "@tendon/contracts";
import { sql } from "@tendon/db";
import type { Appended } from "../domain/admission.js";
import type { Executor } from "./executor.js";

export async function insertEvents(
  db: Executor,
  sessionId: string,
  events: ReadonlyArray<Appended>,
): Promise<void> {
  if (events.length === 0) return;
  await db
    .insertInto("events")
    .values(
      events.map((e) => ({
        session_id: sessionId,
        seq: e.seq,
        id: e.event.id,
        type: e.event.type,
        body: JSON.stringify(e.event),
        internal: e.internal ? JSON.stringify(e.internal) : null,
        idem_key: e.key,
        processed_at: e.event.processed_at,
      })),
    )
    .execute();
}

export interface StoredEvent {
  seq: number;
  event: SessionEvent;
  key: string;
  internal: Record<string, unknown> | null;
}

export async function findByKeys(
  db: Executor,
  sessionId: string,
  keys: string[],
): Promise<Map<string, StoredEvent>> {
  if (keys.length === 0) return new Map();
  const rows = await db
    .selectFrom("events")
    .select(["seq", "body", "idem_key", "internal"])
    .where("session_id", "=", sessionId)
    .where("idem_key", "in", keys)
    .execute();
  return new Map(
    rows.map((r) => [
      r.idem_key,
      { seq: r.seq, event: r.body as unknown as SessionEvent, key: r.idem_key, internal: r.internal },
    ]),
  );
}

export async function range(
  db: Executor,
  sessionId: string,
  afterSeq: number,
  limit: number,
): Promise<StoredEvent[]> {
  const rows = await db
    .selectFrom("events")
    .select(["seq", "body", "idem_key", "internal"])
    .where("session_id", "=", sessionId)
    .where("seq", ">", afterSeq)
    .orderBy("seq", "asc")
    .limit(limit)
    .execute();
  return rows.map((r) => ({
    seq: r.seq,
    event: r.body as unknown as SessionEvent,
    key: r.idem_key,
    internal: r.internal,
  }));
}

export interface EventPageFilter {
  sessionId: string;
  query: EventListQuery;
  order: "asc" | "desc";
  limit: number;
  afterSeq?: number | undefined;
}

/** One page (plus one row to know whether there is more), newest or oldest first. */
export async function listEvents(
  db: Executor,
  f: EventPageFilter,
): Promise<Array<{ seq: number; body: SessionEvent; size: number }>> {
  let q = db
    .selectFrom("events")
    .select(["seq", "body", sql<number>`octet_length(body::text)`.as("size")])
    .where("session_id", "=", f.sessionId);
  const { query } = f;
  if (query.types && query.types.length > 0) q = q.where("type", "in", query.types);
  if (query["created_at[gt]"]) q = q.where("processed_at", ">", new Date(query["created_at[gt]"]));
  if (query["created_at[gte]"]) q = q.where("processed_at", ">=", new Date(query["created_at[gte]"]));
  if (query["created_at[lt]"]) q = q.where("processed_at", "<", new Date(query["created_at[lt]"]));
  if (query["created_at[lte]"]) q = q.where("processed_at", "<=", new Date(query["created_at[lte]"]));
  if (f.afterSeq !== undefined) q = q.where("seq", f.order === "asc" ? ">" : "<", f.afterSeq);
  const rows = await q
    .orderBy("seq", f.order)
    .limit(f.limit + 1)
    .execute();
  return rows.map((r) => ({ seq: r.seq, body: r.body as unknown as SessionEvent, size: Number(r.size) }));
}
