/**
 * Agents: create, retrieve (optionally a version), update with optimistic `version`, list,
 * archive, and the versions list.
 */

import type { Registrar } from "@tendon/bus";
import {
  type Agent,
  type AgentConfig,
  ConflictError,
  decodeCursor,
  encodeCursor,
  type Page,
  SessionLog,
  ValidationError,
} from "@tendon/contracts";
import type { HandlerContext } from "../context.js";
import { applyAgentUpdate, resolveAgentConfig } from "../domain/agent-config.js";
import * as agents from "../store/agents.repo.js";
import { toAgent } from "../store/mappers.js";

export function registerAgentHandlers(ctx: HandlerContext, on: Registrar): void {
  const { db, clock, ids } = ctx;

  on(SessionLog.agentsCreate, async (params) => {
    const config = resolveAgentConfig(params);
    const id = ids.next("agent");
    const now = clock.now();
    await db.kysely.transaction().execute((trx) => agents.insertAgent(trx, id, config, now));
    const head = await agents.getAgentHead(db.kysely, id);
    return toAgent(head, await agents.getAgentVersion(db.kysely, id, 1));
  });

  on(SessionLog.agentsRetrieve, async ({ id, version }) => {
    const head = await agents.getAgentHead(db.kysely, id);
    return toAgent(head, await agents.getAgentVersion(db.kysely, id, version ?? head.current_version));
  });

  on(SessionLog.agentsUpdate, async ({ id, params }) => {
    return db.kysely.transaction().execute(async (trx) => {
      const head = await agents.getAgentHead(trx, id, { forUpdate: true });
      if (head.archived_at) {
        throw new ValidationError(`agent ${id} is archived and cannot be updated`, {
          details: { error_code: "agent_archived" },
        });
      }
      if (params.version !== undefined && params.version !== head.current_version) {
        throw new ConflictError(
          `agent ${id} is at version ${head.current_version}, not ${params.version}; retrieve it and retry`,
          { details: { error_code: "version_conflict", current_version: head.current_version } },
        );
      }
      const current = await agents.getAgentVersion(trx, id, head.current_version);
      const { config, changed } = applyAgentUpdate(current.config as AgentConfig, params);
      if (!changed) return toAgent(head, current);
      const version = head.current_version + 1;
      const now = clock.now();
      await agents.insertAgentVersion(trx, id, version, config, now);
      return toAgent(head, await agents.getAgentVersion(trx, id, version));
    });
  });

  on(SessionLog.agentsList, async (q): Promise<Page<Agent>> => {
    const limit = q.limit ?? 20;
    const rows = await agents.listAgents(db.kysely, {
      createdGte: q["created_at[gte]"],
      createdLte: q["created_at[lte]"],
      includeArchived: q.include_archived ?? false,
      limit: limit + 1,
      after: decodeCursor(q.page, "desc"),
    });
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return {
      data: page.map((r) => toAgent(r.head, r.version)),
      next_page:
        rows.length > limit && last
          ? encodeCursor({ o: "desc", d: "n", k: [last.head.created_at.toISOString(), last.head.id] })
          : null,
    };
  });

  on(SessionLog.agentsArchive, async ({ id }) => {
    const now = clock.now();
    await agents.getAgentHead(db.kysely, id);
    await agents.archiveAgent(db.kysely, id, now);
    const head = await agents.getAgentHead(db.kysely, id);
    return toAgent(head, await agents.getAgentVersion(db.kysely, id, head.current_version));
  });

  on(SessionLog.agentsVersions, async ({ id, limit, page }) => {
    const head = await agents.getAgentHead(db.kysely, id);
    const n = limit ?? 20;
    const cursor = decodeCursor(page, "desc");
    const rows = await agents.listAgentVersions(
      db.kysely,
      id,
      n + 1,
      cursor ? Number(cursor.k[0]) : undefined,
    );
    const data = rows.slice(0, n);
    const last = data.at(-1);
    return {
      data: data.map((v) => toAgent(head, v)),
      next_page: rows.length > n && last ? encodeCursor({ o: "desc", d: "n", k: [last.version] }) : null,
    };
  });
}
