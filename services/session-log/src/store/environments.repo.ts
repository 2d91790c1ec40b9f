/**
 * Environments. Names are unique among environments that are not archived.
 */

import type { Cursor } from "@tendon/contracts";
import { ConflictError, type EnvironmentConfig, NotFoundError } from "@tendon/contracts";
import type { EnvironmentRow } from "@tendon/db";
import { isUniqueViolation, sql } from "@tendon/db";
import type { Executor } from "./executor.js";

export interface NewEnvironment {
  id: string;
  name: string;
  description: string | null;
  config: EnvironmentConfig;
  metadata: Record<string, string>;
  scope: string;
  now: Date;
}

function nameTaken(name: string, cause: unknown): ConflictError {
  return new ConflictError(`an environment named "${name}" already exists`, {
    cause,
    details: { error_code: "environment_name_conflict" },
  });
}

export async function insertEnvironment(db: Executor, e: NewEnvironment): Promise<EnvironmentRow> {
  try {
    return await db
      .insertInto("environments")
      .values({
        id: e.id,
        name: e.name,
        description: e.description,
        config: JSON.stringify(e.config),
        metadata: JSON.stringify(e.metadata),
        scope: e.scope,
        created_at: e.now,
        updated_at: e.now,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
  } catch (err) {
    if (isUniqueViolation(err)) throw nameTaken(e.name, err);
    throw err;
  }
}

export async function getEnvironment(
  db: Executor,
  id: string,
  opts: { forUpdate?: boolean } = {},
): Promise<EnvironmentRow> {
  let q = db.selectFrom("environments").selectAll().where("id", "=", id);
  if (opts.forUpdate) q = q.forUpdate();
  const row = await q.executeTakeFirst();
  if (!row) {
    throw new NotFoundError(`environment ${id} not found`, {
      details: { error_code: "environment_not_found" },
    });
  }
  return row;
}

export async function updateEnvironment(
  db: Executor,
  id: string,
  patch: {
    name: string;
    description: string | null;
    config: EnvironmentConfig;
    metadata: Record<string, string>;
    scope: string;
    now: Date;
  },
): Promise<EnvironmentRow> {
  try {
    return await db
      .updateTable("environments")
      .set({
        name: patch.name,
        description: patch.description,
        config: JSON.stringify(patch.config),
        metadata: JSON.stringify(patch.metadata),
        scope: patch.scope,
        updated_at: patch.now,
      })
      .where("id", "=", id)
      .returningAll()
      .executeTakeFirstOrThrow();
  } catch (err) {
    if (isUniqueViolation(err)) throw nameTaken(patch.name, err);
    throw err;
  }
}

export async function archiveEnvironment(db: Executor, id: string, now: Date): Promise<EnvironmentRow> {
  return db
    .updateTable("environments")
    .set({ archived_at: sql`coalesce(archived_at, ${now})`, updated_at: now })
    .where("id", "=", id)
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function deleteEnvironment(db: Executor, id: string): Promise<void> {
  await db.deleteFrom("environments").where("id", "=", id).execute();
}

export async function countLiveSessionsIn(db: Executor, environmentId: string): Promise<number> {
  const r = await db
    .selectFrom("sessions")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .where("environment_id", "=", environmentId)
    .where("archived_at", "is", null)
    .where("status", "<>", "terminated")
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

export async function listEnvironments(
  db: Executor,
  f: { includeArchived: boolean; limit: number; after?: Cursor | undefined },
): Promise<EnvironmentRow[]> {
  let q = db.selectFrom("environments").selectAll();
  if (!f.includeArchived) q = q.where("archived_at", "is", null);
  if (f.after) {
    const [ts, id] = f.after.k as [string, string];
    q = q.where(sql<boolean>`(created_at, id) < (${new Date(ts)}, ${id})`);
  }
  return q.orderBy("created_at", "desc").orderBy("id", "desc").limit(f.limit).execute();
}
