/**
 * The append-only event log. Rows are read by `(session_id, seq)`; `seq` is gap-free per session
 * because it is assigned under the session row's lock in the appending transaction.
 */
import type { EventListQuery, LoggedEvent, SessionEvent } from "@tendon/contracts";
import { sql } from "@tendon/db";
import type { Appended } from "../domain/admission.js";
import type { Executor } from "./executor.js";
import { type Projection, projectionColumns } from "./sessions.repo.js";

/**
 * Inserts the events and writes the session's new projection in one statement (a data-modifying
 * CTE): the append path's hottest round trip, once instead of twice.
 */
export async function appendEvents(
  db: Executor,
  sessionId: string,
  events: ReadonlyArray<Appended>,
  projection: Projection,
): Promise<void> {
  if (events.length === 0) throw new Error("appendEvents: nothing to append");
  await db
    .with("appended", (qc) =>
      qc.insertInto("events").values(
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
      ),
    )
    .updateTable("sessions")
    .set(projectionColumns(projection))
    .where("id", "=", sessionId)
    .execute();
}

export interface StoredEvent {
  seq: number;
  event: SessionEvent;
  key: string;
  internal: Record<string, unknown> | null;
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

/** `range`, cut where the reply would pass `maxBytes` (at least one event). */
export async function rangeWithin(
  db: Executor,
  sessionId: string,
  afterSeq: number,
  limit: number,
  maxBytes: number,
): Promise<LoggedEvent[]> {
  const out: LoggedEvent[] = [];
  let bytes = 0;
  for (const e of await range(db, sessionId, afterSeq, limit)) {
    const size = JSON.stringify(e.event).length + (e.internal ? JSON.stringify(e.internal).length : 0);
    if (out.length > 0 && bytes + size > maxBytes) break;
    out.push({ seq: e.seq, event: e.event, internal: e.internal });
    bytes += size;
  }
  return out;
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
