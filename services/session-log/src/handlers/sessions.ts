/**
 * Sessions: create (snapshotting the agent, processing `initial_events`), retrieve, list with the
 * spec's filters and a bidirectional cursor, update (emits `session.updated`), archive (emits
 * `session.status_terminated`), delete (tells live readers the session is gone).
 */

import type { Registrar } from "@tendon/bus";
import {
  type AgentConfig,
  applyMetadataPatch,
  CredentialProxy,
  decodeCursor,
  type EnvironmentConfig,
  type EventPayload,
  encodeCursor,
  SandboxManager,
  type SessionAgentParams,
  SessionLog,
  ValidationError,
} from "@tendon/contracts";
import { serializeError } from "@tendon/runtime";
import type { HandlerContext } from "../context.js";
import {
  type AppendPlan,
  admitClientEvents,
  planServerEvents,
  terminatedError,
} from "../domain/admission.js";
import { applySessionAgentUpdate, applySessionOverrides } from "../domain/agent-config.js";
import { initialState } from "../domain/projection.js";
import { newResources } from "../domain/resources.js";
import * as agents from "../store/agents.repo.js";
import * as envs from "../store/environments.repo.js";
import { toSession, toSessionAgent } from "../store/mappers.js";
import * as sessions from "../store/sessions.repo.js";
import * as work from "../store/work.repo.js";
import { writeSession } from "../writer.js";

/** Drops a session's repository tokens from the credential-proxy (best effort: logged on failure). */
async function forgetRepositories(ctx: HandlerContext, sessionId: string): Promise<void> {
  await ctx.bus
    .request(CredentialProxy.repositoriesDelete, { session_id: sessionId })
    .catch((err: unknown) =>
      ctx.log.warn("repository tokens not dropped", { session_id: sessionId, err: serializeError(err) }),
    );
}

function agentRef(a: SessionAgentParams): { id: string; version?: number | undefined } {
  return typeof a === "string" ? { id: a } : { id: a.id, version: a.version };
}

export function registerSessionHandlers(ctx: HandlerContext, on: Registrar): void {
  const { db, clock, ids } = ctx;
  on(SessionLog.sessionsCreate, async (p) => {
    const now = clock.now();
    const repos = newResources(p.resources ?? [], [], () => ids.next("sessionResource"), now);
    if (p.vault_ids && p.vault_ids.length > 0) {
      const { missing } = await ctx.bus.request(CredentialProxy.vaultsCheck, { ids: p.vault_ids });
      if (missing.length > 0) {
        throw new ValidationError(`vault_ids: ${missing.join(", ")} not found or archived`, {
          details: { error_code: "vault_not_found" },
        });
      }
    }
    const id = ids.next("session");
    let eager: { environment: EnvironmentConfig; mcpServerUrls: string[] } | undefined;
    // Tokens go to the credential-proxy first; if the session is not created after all, they are dropped.
    if (repos.length > 0) {
      await ctx.bus.request(CredentialProxy.repositoriesPut, {
        session_id: id,
        repositories: repos.map(({ resource: r, token }) => ({
          resource_id: r.id,
          url: r.url,
          mount_path: r.mount_path,
          checkout: r.checkout ?? null,
          ...(token !== undefined ? { authorization_token: token } : {}),
        })),
      });
    }
    const selfHostedEnv = await db.kysely
      .transaction()
      .execute(async (trx) => {
        const env = await envs.getEnvironment(trx, p.environment_id);
        if (env.archived_at) {
          throw new ValidationError(`environment ${env.id} is archived`, {
            details: { error_code: "environment_archived" },
          });
        }
        const ref = agentRef(p.agent);
        const head = await agents.getAgentHead(trx, ref.id);
        if (head.archived_at) {
          throw new ValidationError(`agent ${head.id} is archived`, {
            details: { error_code: "agent_archived" },
          });
        }
        const version = ref.version ?? head.current_version;
        const v = await agents.getAgentVersion(trx, head.id, version);
        const config = applySessionOverrides(v.config as AgentConfig, p.agent);
        await sessions.insertSession(trx, {
          id,
          agentId: head.id,
          agentVersion: version,
          agent: toSessionAgent(head.id, version, config),
          environmentId: env.id,
          environmentKind: (env.config as EnvironmentConfig).type,
          title: p.title ?? null,
          metadata: p.metadata ?? {},
          vaultIds: p.vault_ids ?? [],
          resources: repos.map((r) => r.resource),
          budget: p.budget ?? null,
          state: initialState(),
          now,
        });
        const envConfig = env.config as EnvironmentConfig;
        if (envConfig.type === "cloud" && envConfig.provisioning === "eager") {
          eager = { environment: envConfig, mcpServerUrls: config.mcp_servers.map((m) => m.url) };
        }
        // Self-hosted sessions get a work item at creation, so a worker attaches before the first tool call.
        if (envConfig.type !== "self_hosted") return undefined;
        await work.ensureLiveItem(trx, id, env.id, ids.next("work"), now);
        return env.id;
      })
      .catch(async (err: unknown) => {
        if (repos.length > 0) await forgetRepositories(ctx, id);
        throw err;
      });
    if (selfHostedEnv) ctx.bus.notifyWorkAvailable(selfHostedEnv);
    if (eager) {
      // Eager environments start their sandbox now; the harness waits for it before the first model call.
      ctx.bus
        .request(SandboxManager.provision, {
          session_id: id,
          environment: eager.environment,
          vault_ids: p.vault_ids ?? [],
          mcp_server_urls: eager.mcpServerUrls,
        })
        .catch((err: unknown) =>
          ctx.log.warn("eager sandbox provisioning failed", { session_id: id, err: serializeError(err) }),
        );
    }
    if (p.initial_events && p.initial_events.length > 0) {
      const initial = p.initial_events;
      await writeSession(ctx, id, async (s) => ({
        plan: admitClientEvents(s.state, initial, s.appendContext(), (i) => `c:init:${i}`),
        result: undefined,
      }));
    }
    return toSession(await sessions.getSession(db.kysely, id), clock.now());
  });

  on(SessionLog.sessionsRetrieve, async ({ id }) =>
    toSession(await sessions.getSession(db.kysely, id), clock.now()),
  );

  on(SessionLog.sessionsList, async (q) => {
    const order = q.order ?? "desc";
    const limit = q.limit ?? 20;
    const cursor = decodeCursor(q.page, order);
    const rows = await sessions.listSessions(db.kysely, { ...q, order, limit: limit + 1, cursor });
    const backwards = cursor?.d === "p";
    // One extra row tells whether more exist in the walking direction.
    const more = rows.length > limit;
    const data = backwards ? rows.slice(rows.length - Math.min(rows.length, limit)) : rows.slice(0, limit);
    const first = data[0];
    const last = data.at(-1);
    const key = (r: { created_at: Date; id: string }) => [r.created_at.toISOString(), r.id];
    const hasNext = backwards ? data.length > 0 : more;
    const hasPrev = backwards ? more : cursor !== undefined && data.length > 0;
    const now = clock.now();
    return {
      data: data.map((r) => toSession(r, now)),
      next_page: hasNext && last ? encodeCursor({ o: order, d: "n", k: key(last) }) : null,
      prev_page: hasPrev && first ? encodeCursor({ o: order, d: "p", k: key(first) }) : null,
    };
  });

  on(SessionLog.sessionsUpdate, async ({ id, params: p }) => {
    if (p.vault_ids !== undefined) {
      throw new ValidationError("vault_ids cannot be changed after a session is created", {
        details: { error_code: "unsupported_field" },
      });
    }
    await writeSession(ctx, id, async (s) => {
      if (s.row.archived_at || s.state.status === "terminated") throw terminatedError();
      const changed: EventPayload & { type: "session.updated" } = { type: "session.updated" };
      let agent: unknown;
      if (p.agent && (p.agent.tools !== undefined || p.agent.mcp_servers !== undefined)) {
        if (s.state.status !== "idle") {
          throw new ValidationError("the agent's tools can only be changed while the session is idle", {
            details: { error_code: "session_not_idle" },
          });
        }
        const cur = s.row.agent as AgentConfig & { id: string; version: number };
        const next = applySessionAgentUpdate({ ...cur, metadata: {} }, p.agent);
        agent = toSessionAgent(cur.id, cur.version, next);
        changed.agent = agent;
      }
      const metadata = p.metadata === undefined ? undefined : applyMetadataPatch(s.row.metadata, p.metadata);
      if (metadata) changed.metadata = metadata;
      if (p.title !== undefined) changed.title = p.title;
      if (p.budget !== undefined) changed.budget = p.budget;
      await sessions.updateSessionFields(s.trx, id, {
        ...(p.title !== undefined ? { title: p.title } : {}),
        ...(metadata ? { metadata } : {}),
        ...(agent !== undefined ? { agent } : {}),
        ...(p.budget !== undefined ? { budget: p.budget } : {}),
        now: clock.now(),
      });
      const plan: AppendPlan | undefined =
        Object.keys(changed).length > 1
          ? planServerEvents(s.state, [changed], s.appendContext(), `u:${s.row.last_seq}`)
          : undefined;
      return { plan, result: undefined };
    });
    return toSession(await sessions.getSession(db.kysely, id), clock.now());
  });

  on(SessionLog.sessionsArchive, async ({ id }) => {
    await writeSession(ctx, id, async (s) => {
      if (s.row.archived_at) return { result: undefined };
      if (s.state.status === "running" || s.state.status === "rescheduling") {
        throw new ValidationError("a running session cannot be archived; interrupt it first", {
          details: { error_code: "session_running" },
        });
      }
      await sessions.updateSessionFields(s.trx, id, { archivedAt: clock.now(), now: clock.now() });
      await work.stopSessionItems(s.trx, id, clock.now());
      const plan =
        s.state.status === "terminated"
          ? undefined
          : planServerEvents(s.state, [{ type: "session.status_terminated" }], s.appendContext(), "archive");
      return { plan, releaseLease: true, result: undefined };
    });
    return toSession(await sessions.getSession(db.kysely, id), clock.now());
  });

  on(SessionLog.sessionsDelete, async ({ id }) => {
    const at = clock.now();
    const hadResources = await db.kysely.transaction().execute(async (trx) => {
      const row = await sessions.getSession(trx, id, { forUpdate: true });
      const status = row.status;
      if (status === "running" || status === "rescheduling") {
        throw new ValidationError("a running session cannot be deleted; interrupt it first", {
          details: { error_code: "session_running" },
        });
      }
      await sessions.deleteSession(trx, id);
      return (row.resources as unknown[]).length > 0;
    });
    if (hadResources) await forgetRepositories(ctx, id);
    ctx.effects.deleted(id, at, ids.next("event"));
    return { id, type: "session_deleted" as const };
  });
}
