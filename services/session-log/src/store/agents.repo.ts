/**
 * Agents and their immutable versions.
 */
import type { AgentConfig, Cursor } from "@tendon/contracts";
import { NotFoundError } from "@tendon/contracts";
import type { AgentVersionRow } from "@tendon/db";
import { sql } from "@tendon/db";
import type { Executor } from "./executor.js";
import type { AgentHead } from "./mappers.js";

export async function insertAgent(db: Executor, id: string, config: AgentConfig, now: Date): Promise<void> {
  await db
    .insertInto("agents")
    .values({ id, current_version: 1, created_at: now, updated_at: now })
    .execute();
  await db
    .insertInto("agent_versions")
    .values({ agent_id: id, version: 1, config: JSON.stringify(config), created_at: now })
    .execute();
}

export async function getAgentHead(db: Executor, id: string, opts: { forUpdate?: boolean } = {}) {
  let q = db.selectFrom("agents").selectAll().where("id", "=", id);
  if (opts.forUpdate) q = q.forUpdate();
  const row = await q.executeTakeFirst();
  if (!row) throw new NotFoundError(`agent ${id} not found`);
  return row;
}

export async function getAgentVersion(db: Executor, id: string, version: number): Promise<AgentVersionRow> {
  const row = await db
    .selectFrom("agent_versions")
    .selectAll()
    .where("agent_id", "=", id)
    .where("version", "=", version)
    .executeTakeFirst();
  if (!row) throw new NotFoundError(`agent ${id} has no version ${version}`);
  return row;
}

export async function insertAgentVersion(
  db: Executor,
  id: string,
  version: number,
  config: AgentConfig,
  now: Date,
): Promise<void> {
  await db
    .insertInto("agent_versions")
    .values({ agent_id: id, version, config: JSON.stringify(config), created_at: now })
    .execute();
  await db
    .updateTable("agents")
    .set({ current_version: version, updated_at: now })
    .where("id", "=", id)
    .execute();
}

export async function archiveAgent(db: Executor, id: string, now: Date): Promise<void> {
  await db
    .updateTable("agents")
    .set({ archived_at: now, updated_at: now })
    .where("id", "=", id)
    .where("archived_at", "is", null)
    .execute();
}

export interface AgentListFilter {
  createdGte?: string | undefined;
  createdLte?: string | undefined;
  includeArchived: boolean;
  limit: number;
  after?: Cursor | undefined;
}

/** Newest first; each row with its current version. */
export async function listAgents(
  db: Executor,
  f: AgentListFilter,
): Promise<Array<{ head: AgentHead; version: AgentVersionRow }>> {
  let q = db
    .selectFrom("agents as a")
    .innerJoin("agent_versions as v", (j) =>
      j.onRef("v.agent_id", "=", "a.id").onRef("v.version", "=", "a.current_version"),
    )
    .select([
      "a.id",
      "a.created_at",
      "a.archived_at",
      "v.agent_id",
      "v.version",
      "v.config",
      "v.created_at as version_created_at",
    ]);
  if (!f.includeArchived) q = q.where("a.archived_at", "is", null);
  if (f.createdGte) q = q.where("a.created_at", ">=", new Date(f.createdGte));
  if (f.createdLte) q = q.where("a.created_at", "<=", new Date(f.createdLte));
  if (f.after) {
    const [ts, id] = f.after.k as [string, string];
    q = q.where(sql<boolean>`(a.created_at, a.id) < (${new Date(ts)}, ${id})`);
  }
  const rows = await q.orderBy("a.created_at", "desc").orderBy("a.id", "desc").limit(f.limit).execute();
  return rows.map((r) => ({
    head: { id: r.id, created_at: r.created_at, archived_at: r.archived_at },
    version: { agent_id: r.agent_id, version: r.version, config: r.config, created_at: r.version_created_at },
  }));
}

export async function listAgentVersions(
  db: Executor,
  id: string,
  limit: number,
  beforeVersion: number | undefined,
): Promise<AgentVersionRow[]> {
  let q = db.selectFrom("agent_versions").selectAll().where("agent_id", "=", id);
  if (beforeVersion !== undefined) q = q.where("version", "<", beforeVersion);
  return q.orderBy("version", "desc").limit(limit).execute();
}
