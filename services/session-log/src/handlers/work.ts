/**
 * The self-hosted work queue (spec §3.3, §5): claim (the gateway long-polls around it), ack,
 * heartbeat with the exact precondition semantics, stop, retrieve, update, list, stats, and
 * environment keys.
 */

import type { Registrar } from "@tendon/bus";
import {
  AppError,
  applyMetadataPatch,
  ConflictError,
  decodeCursor,
  type EnvironmentConfig,
  encodeCursor,
  encodeWorkSecret,
  NO_HEARTBEAT,
  SessionLog,
  ValidationError,
  type Work,
  type WorkHeartbeat,
  type WorkState,
} from "@tendon/contracts";
import type { WorkItemRow } from "@tendon/db";
import type { HandlerContext } from "../context.js";
import type { SessionState } from "../domain/projection.js";
import * as envs from "../store/environments.repo.js";
import { insertKey, revokeWorkTokens } from "../store/keys.repo.js";
import { iso } from "../store/mappers.js";
import { getSession } from "../store/sessions.repo.js";
import * as work from "../store/work.repo.js";
import { mintKey } from "./auth.js";

/** Default lease of a work item between heartbeats. */
export const WORK_TTL_SECONDS = 60;
/** Polled-but-unacked items return to the queue after this long (spec: default 5000). */
export const DEFAULT_RECLAIM_MS = 5_000;

export function toWork(r: WorkItemRow, secret: string | null = null): Work {
  return {
    id: r.id,
    type: "work",
    environment_id: r.environment_id,
    data: { type: "session", id: r.session_id },
    state: r.state as WorkState,
    secret,
    metadata: r.metadata,
    created_at: r.created_at.toISOString(),
    acknowledged_at: iso(r.acknowledged_at),
    started_at: iso(r.started_at),
    latest_heartbeat_at: iso(r.latest_heartbeat_at),
    stop_requested_at: iso(r.stop_requested_at),
    stopped_at: iso(r.stopped_at),
  };
}

function heartbeatState(r: WorkItemRow, leaseExtended: boolean): WorkHeartbeat {
  return {
    type: "work_heartbeat",
    last_heartbeat: r.last_heartbeat ?? NO_HEARTBEAT,
    lease_extended: leaseExtended,
    state: r.state as WorkState,
    ttl_seconds: r.ttl_seconds,
  };
}

export function registerWorkHandlers(ctx: HandlerContext, on: Registrar): void {
  const { db, clock, ids, bus } = ctx;

  on(SessionLog.workClaim, async ({ environment_id, worker_id, reclaim_older_than_ms }) => {
    const now = clock.now();
    return db.kysely.transaction().execute(async (trx) => {
      const env = await envs.getEnvironment(trx, environment_id);
      if ((env.config as EnvironmentConfig).type !== "self_hosted") {
        throw new ValidationError(`environment ${environment_id} is not self_hosted`, {
          details: { error_code: "environment_not_self_hosted" },
        });
      }
      await work.recordPoller(trx, environment_id, worker_id, now);
      const row = await work.claim(trx, environment_id, worker_id, reclaim_older_than_ms, now);
      if (!row) return { work: null };
      await revokeWorkTokens(trx, row.id, now);
      const token = mintKey("session");
      await insertKey(trx, {
        id: ids.next("apiKey"),
        name: `work ${row.id}`,
        kind: "session",
        key: token,
        environmentId: environment_id,
        sessionId: row.session_id,
        workId: row.id,
        now,
      });
      return { work: toWork(row, encodeWorkSecret({ sessions_token: token })) };
    });
  });

  on(SessionLog.workAck, async ({ environment_id, work_id }) =>
    db.kysely.transaction().execute(async (trx) => {
      const row = await work.getItem(trx, environment_id, work_id, { forUpdate: true });
      if (row.state === "starting" || row.state === "active") return toWork(row);
      if (row.state !== "queued" || !row.polled_at) {
        throw new ConflictError(`work item ${work_id} is ${row.state} and cannot be acknowledged`, {
          details: { error_code: "work_not_pending" },
        });
      }
      const now = clock.now();
      return toWork(
        await work.updateItem(trx, work_id, {
          state: "starting",
          acknowledged_at: now,
          lease_expires_at: new Date(now.getTime() + row.ttl_seconds * 1000),
        }),
      );
    }),
  );

  on(
    SessionLog.workHeartbeat,
    async ({ environment_id, work_id, expected_last_heartbeat, desired_ttl_seconds }) =>
      db.kysely.transaction().execute(async (trx) => {
        const row = await work.getItem(trx, environment_id, work_id, { forUpdate: true });
        // Stopping or stopped: no precondition, the worker just learns it must let go.
        if (row.state === "stopping" || row.state === "stopped") return heartbeatState(row, false);
        const current = row.last_heartbeat ?? NO_HEARTBEAT;
        if (row.state === "queued" || expected_last_heartbeat !== current) {
          throw new AppError(
            "precondition_failed",
            "expected_last_heartbeat does not match: the lease was lost",
            {
              details: {
                error_code: "heartbeat_precondition_failed",
                current_state: heartbeatState(row, false),
              },
            },
          );
        }
        const now = clock.now();
        const ttl = desired_ttl_seconds ?? row.ttl_seconds;
        const updated = await work.updateItem(trx, work_id, {
          state: "active",
          started_at: row.started_at ?? now,
          latest_heartbeat_at: now,
          last_heartbeat: `${now.toISOString()}#${ids.next("event").slice(-6)}`,
          lease_expires_at: new Date(now.getTime() + ttl * 1000),
          ttl_seconds: ttl,
        });
        return heartbeatState(updated, true);
      }),
  );

  on(SessionLog.workStop, async ({ environment_id, work_id, force }) => {
    const { row, requeue } = await db.kysely.transaction().execute(async (trx) => {
      const cur = await work.getItem(trx, environment_id, work_id, { forUpdate: true });
      if (cur.state === "stopped") {
        throw new ConflictError(`work item ${work_id} is already stopped`, {
          details: { error_code: "work_already_stopped" },
        });
      }
      const now = clock.now();
      const stopNow = force || cur.state === "queued";
      const next = await work.updateItem(
        trx,
        work_id,
        stopNow ? { state: "stopped", stopped_at: now } : { state: "stopping", stop_requested_at: now },
      );
      if (!stopNow) return { row: next, requeue: false };
      await revokeWorkTokens(trx, work_id, now);
      // The worker left while tool calls still wait for it: queue another item for them.
      const session = await getSession(trx, cur.session_id).catch(() => undefined);
      const state = session?.state as SessionState | undefined;
      let requeue = false;
      if (
        session &&
        !session.archived_at &&
        state &&
        state.status !== "terminated" &&
        Object.keys(state.awaiting).length > 0
      ) {
        requeue = await work.ensureLiveItem(trx, session.id, environment_id, ids.next("work"), now);
      }
      return { row: next, requeue };
    });
    if (requeue) bus.notifyWorkAvailable(environment_id);
    return toWork(row);
  });

  on(SessionLog.workRetrieve, async ({ environment_id, work_id }) =>
    toWork(await work.getItem(db.kysely, environment_id, work_id)),
  );

  on(SessionLog.workUpdate, async ({ environment_id, work_id, params }) =>
    db.kysely.transaction().execute(async (trx) => {
      const cur = await work.getItem(trx, environment_id, work_id, { forUpdate: true });
      return toWork(
        await work.updateItem(trx, work_id, { metadata: applyMetadataPatch(cur.metadata, params.metadata) }),
      );
    }),
  );

  on(SessionLog.workList, async ({ environment_id, query }) => {
    await envs.getEnvironment(db.kysely, environment_id);
    const limit = query.limit ?? 20;
    const rows = await work.listItems(db.kysely, environment_id, limit + 1, decodeCursor(query.page, "desc"));
    const data = rows.slice(0, limit);
    const last = data.at(-1);
    return {
      data: data.map((r) => toWork(r)),
      next_page:
        rows.length > limit && last
          ? encodeCursor({ o: "desc", d: "n", k: [last.created_at.toISOString(), last.id] })
          : null,
    };
  });

  on(SessionLog.workStats, async ({ environment_id }) => {
    await envs.getEnvironment(db.kysely, environment_id);
    const s = await work.stats(db.kysely, environment_id, clock.now(), DEFAULT_RECLAIM_MS);
    return {
      type: "work_queue_stats" as const,
      depth: s.depth,
      pending: s.pending,
      oldest_queued_at: s.oldest ? new Date(s.oldest).toISOString() : null,
      workers_polling: s.pollers,
    };
  });

  on(SessionLog.environmentKeysCreate, async ({ environment_id, name }) => {
    const env = await envs.getEnvironment(db.kysely, environment_id);
    if ((env.config as EnvironmentConfig).type !== "self_hosted") {
      throw new ValidationError(
        `environment ${environment_id} is not self_hosted; environment keys are for self-hosted workers`,
        {
          details: { error_code: "environment_not_self_hosted" },
        },
      );
    }
    const key = mintKey("environment");
    const row = await insertKey(db.kysely, {
      id: ids.next("apiKey"),
      name,
      kind: "environment",
      key,
      environmentId: environment_id,
      now: clock.now(),
    });
    return {
      id: row.id,
      type: "environment_key" as const,
      environment_id,
      name,
      key,
      created_at: row.created_at.toISOString(),
    };
  });
}
