/**
 * Sessions: the row holds the snapshot of the agent, the projection of the log (`state`, `status`,
 * `last_seq`) and the harness lease (`lease_owner`, `lease_epoch`).
 */

import type { Cursor } from "@tendon/contracts";
import { NotFoundError, type SessionListQuery } from "@tendon/contracts";
import type { Database, ExpressionBuilder, SessionRow } from "@tendon/db";
import { sql } from "@tendon/db";
import type { SessionState } from "../domain/projection.js";
import type { StoredEvent } from "./events.repo.js";
import type { Executor } from "./executor.js";

type AliasedSessions = ExpressionBuilder<Database & { s: Database["sessions"] }, "s">;

/** The lease owner is unset, or its worker's liveness row has expired (by Postgres' clock). */
function noLiveOwner(eb: AliasedSessions) {
  return eb.or([
    eb("s.lease_owner", "is", null),
    eb.not(
      eb.exists(
        eb
          .selectFrom("harness_workers as w")
          .select("w.id")
          .whereRef("w.id", "=", "s.lease_owner")
          .where("w.expires_at", ">", sql<Date>`clock_timestamp()`),
      ),
    ),
  ]);
}

export interface NewSession {
  id: string;
  agentId: string;
  agentVersion: number;
  agent: unknown;
  environmentId: string;
  environmentKind: "cloud" | "self_hosted";
  title: string | null;
  metadata: Record<string, string>;
  vaultIds: string[];
  resources: unknown[];
  budget: unknown;
  state: SessionState;
  now: Date;
}

export async function insertSession(db: Executor, s: NewSession): Promise<SessionRow> {
  return db
    .insertInto("sessions")
    .values({
      id: s.id,
      agent_id: s.agentId,
      agent_version: s.agentVersion,
      agent: JSON.stringify(s.agent),
      environment_id: s.environmentId,
      environment_kind: s.environmentKind,
      title: s.title,
      metadata: JSON.stringify(s.metadata),
      resources: JSON.stringify(s.resources),
      vault_ids: JSON.stringify(s.vaultIds),
      budget: s.budget === null || s.budget === undefined ? null : JSON.stringify(s.budget),
      status: s.state.status,
      state: JSON.stringify(s.state),
      created_at: s.now,
      updated_at: s.now,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function getSession(
  db: Executor,
  id: string,
  opts: { forUpdate?: boolean } = {},
): Promise<SessionRow> {
  let q = db.selectFrom("sessions").selectAll().where("id", "=", id);
  if (opts.forUpdate) q = q.forUpdate();
  const row = await q.executeTakeFirst();
  if (!row) throw new NotFoundError(`session ${id} not found`);
  return row;
}

/**
 * Locks the session row for an append and, in the same round trip, reads the events already
 * appended under any of `keys` (idempotency: a retried append finds what its first try wrote).
 */
export async function lockForAppend(
  db: Executor,
  id: string,
  keys: readonly string[],
): Promise<{ row: SessionRow; seen: Map<string, StoredEvent> }> {
  const found = await db
    .selectFrom("sessions as s")
    .selectAll("s")
    .select((eb) =>
      eb
        .selectFrom("events as e")
        .select(
          sql<StoredEvent[] | null>`json_agg(json_build_object('seq', e.seq, 'event', e.body,
            'key', e.idem_key, 'internal', e.internal))`.as("agg"),
        )
        .whereRef("e.session_id", "=", "s.id")
        .where(sql<boolean>`e.idem_key = any(${[...keys]}::text[])`)
        .as("seen"),
    )
    .where("s.id", "=", id)
    .forUpdate()
    .executeTakeFirst();
  if (!found) throw new NotFoundError(`session ${id} not found`);
  const { seen, ...row } = found;
  return { row, seen: new Map((seen ?? []).map((e) => [e.key, { ...e, seq: Number(e.seq) }])) };
}

export interface Projection {
  state: SessionState;
  lastSeq: number;
  now: Date;
  releaseLease?: boolean;
}

/** The session row's columns that an append changes. */
export function projectionColumns(p: Projection) {
  return {
    status: p.state.status,
    state: JSON.stringify(p.state),
    last_seq: p.lastSeq,
    updated_at: p.now,
    ...(p.releaseLease ? { lease_owner: null } : {}),
  };
}

/** Writes the projection alone (an append that only releases the lease). */
export async function saveProjection(db: Executor, id: string, p: Projection): Promise<void> {
  await db.updateTable("sessions").set(projectionColumns(p)).where("id", "=", id).execute();
}

export async function updateSessionFields(
  db: Executor,
  id: string,
  f: {
    title?: string | null;
    metadata?: Record<string, string>;
    agent?: unknown;
    budget?: unknown;
    resources?: unknown[];
    archivedAt?: Date;
    now: Date;
  },
): Promise<SessionRow> {
  return db
    .updateTable("sessions")
    .set({
      ...(f.title !== undefined ? { title: f.title } : {}),
      ...(f.metadata !== undefined ? { metadata: JSON.stringify(f.metadata) } : {}),
      ...(f.agent !== undefined ? { agent: JSON.stringify(f.agent) } : {}),
      ...(f.budget !== undefined ? { budget: f.budget === null ? null : JSON.stringify(f.budget) } : {}),
      ...(f.resources !== undefined ? { resources: JSON.stringify(f.resources) } : {}),
      ...(f.archivedAt !== undefined ? { archived_at: f.archivedAt } : {}),
      updated_at: f.now,
    })
    .where("id", "=", id)
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function deleteSession(db: Executor, id: string): Promise<void> {
  await db.deleteFrom("sessions").where("id", "=", id).execute();
}

/**
 * Takes the lease if nobody live holds it (the owner is unset, or its worker row has expired) or
 * the caller already does: a worker that retries an acquire whose reply was lost must get its
 * own lease back, or the session sits leased to a live worker that is not driving it (found by
 * the 500-session chaos run). Every grant bumps the epoch, which fences anything the worker
 * started under the old one. Returns the new row, or undefined when another live worker holds it.
 */
/**
 * Takes the session's lease (epoch + 1) when this worker holds it or no live worker does.
 * `prev_owner` is the holder before this update (the sub-select reads the statement's snapshot):
 * null for a fresh lease, another worker's id for a takeover.
 */
export async function acquireLease(
  db: Executor,
  id: string,
  workerId: string,
): Promise<(SessionRow & { prev_owner: string | null }) | undefined> {
  return db
    .updateTable("sessions as s")
    .set({
      lease_owner: workerId,
      lease_epoch: sql`s.lease_epoch + 1`,
      lease_granted_at: sql`clock_timestamp()`,
    })
    .where("s.id", "=", id)
    .where((eb) => eb.or([eb("s.lease_owner", "=", workerId), noLiveOwner(eb)]))
    .returningAll()
    .returning((eb) =>
      eb.selectFrom("sessions as p").select("p.lease_owner").where("p.id", "=", id).as("prev_owner"),
    )
    .executeTakeFirst();
}

export async function releaseLease(
  db: Executor,
  id: string,
  workerId: string,
  epoch: number,
): Promise<boolean> {
  const r = await db
    .updateTable("sessions")
    .set({ lease_owner: null })
    .where("id", "=", id)
    .where("lease_owner", "=", workerId)
    .where("lease_epoch", "=", epoch)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

/**
 * Gives back the leases `workerId` holds on sessions other than `driving` (its heartbeat's list)
 * that were granted more than `graceMs` ago (a grant racing the heartbeat is not in its list yet);
 * returns those sessions. Their epoch stays, so anything the worker still writes under it is fenced.
 */
export async function releaseUndriven(
  db: Executor,
  workerId: string,
  driving: readonly string[],
  graceMs: number,
): Promise<string[]> {
  const rows = await db
    .updateTable("sessions")
    .set({ lease_owner: null })
    .where("lease_owner", "=", workerId)
    .where(sql<boolean>`not (id = any(${[...driving]}::text[]))`)
    .where(
      sql<boolean>`coalesce(lease_granted_at, '-infinity') < clock_timestamp() - make_interval(secs => ${graceMs / 1000})`,
    )
    .returning("id")
    .execute();
  return rows.map((r) => r.id);
}

/**
 * Sessions that should be running but have no live harness: active status, and the lease owner is
 * unset or expired. Quiet for `graceMs` so a fresh wake-up has time to be taken.
 */
export async function findOrphans(
  db: Executor,
  graceMs: number,
  limit: number,
): Promise<Array<{ id: string; lease_epoch: number; last_seq: number }>> {
  return db
    .selectFrom("sessions as s")
    .select(["s.id", "s.lease_epoch", "s.last_seq"])
    .where("s.status", "in", ["running", "rescheduling"])
    .where("s.updated_at", "<", sql<Date>`clock_timestamp() - make_interval(secs => ${graceMs / 1000})`)
    .where(noLiveOwner)
    .limit(limit)
    .execute();
}

export interface SessionListFilter extends Omit<SessionListQuery, "limit" | "page" | "order"> {
  order: "asc" | "desc";
  limit: number;
  cursor?: Cursor | undefined;
}

export async function listSessions(db: Executor, f: SessionListFilter): Promise<SessionRow[]> {
  let q = db.selectFrom("sessions").selectAll();
  if (f.agent_id) q = q.where("agent_id", "=", f.agent_id);
  if (f.agent_version !== undefined) q = q.where("agent_version", "=", f.agent_version);
  if (f.environment_id) q = q.where("environment_id", "=", f.environment_id);
  if (!f.include_archived) q = q.where("archived_at", "is", null);
  if (f["created_at[gt]"]) q = q.where("created_at", ">", new Date(f["created_at[gt]"]));
  if (f["created_at[gte]"]) q = q.where("created_at", ">=", new Date(f["created_at[gte]"]));
  if (f["created_at[lt]"]) q = q.where("created_at", "<", new Date(f["created_at[lt]"]));
  if (f["created_at[lte]"]) q = q.where("created_at", "<=", new Date(f["created_at[lte]"]));
  if (f.statuses && f.statuses.length > 0) q = q.where("status", "in", f.statuses);
  // Walking backwards (`prev_page`) flips the direction; the caller restores the order.
  const backwards = f.cursor?.d === "p";
  const desc = (f.order === "desc") !== backwards;
  if (f.cursor) {
    const [ts, id] = f.cursor.k as [string, string];
    q = desc
      ? q.where(sql<boolean>`(created_at, id) < (${new Date(ts)}, ${id})`)
      : q.where(sql<boolean>`(created_at, id) > (${new Date(ts)}, ${id})`);
  }
  const dir = desc ? "desc" : "asc";
  const rows = await q.orderBy("created_at", dir).orderBy("id", dir).limit(f.limit).execute();
  return backwards ? rows.reverse() : rows;
}
