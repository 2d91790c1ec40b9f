/**
 * The harness side of the log: leases with fencing epochs, fenced idempotent appends, release,
 * and worker liveness heartbeats.
 */

import type { Registrar } from "@tendon/bus";
import type { EnvironmentConfig, SessionAgent } from "@tendon/contracts";
import { AppError, FencedError, SessionLog, type SessionRuntime } from "@tendon/contracts";
import type { HandlerContext } from "../context.js";
import { planHarnessAppend, terminatedError } from "../domain/admission.js";
import type { SessionState } from "../domain/projection.js";
import * as envs from "../store/environments.repo.js";
import * as events from "../store/events.repo.js";
import * as sessions from "../store/sessions.repo.js";
import * as workers from "../store/workers.repo.js";
import { writeSession } from "../writer.js";

/** Events in the log page an acquire returns (as many as one `events.range` reply holds). */
const LOG_PAGE_EVENTS = 1000;

export function registerHarnessHandlers(ctx: HandlerContext, on: Registrar): void {
  const { db } = ctx;

  on(SessionLog.harnessAcquire, async ({ session_id, worker_id }) => {
    const row = await sessions.acquireLease(db.kysely, session_id, worker_id);
    if (!row) {
      await sessions.getSession(db.kysely, session_id); // 404 when it does not exist
      throw new AppError("conflict", "another harness worker holds this session", {
        details: { error_code: "lease_held" },
      });
    }
    const kind = !row.prev_owner ? "fresh" : row.prev_owner === worker_id ? "renewed" : "takeover";
    ctx.metrics.leaseAcquisitions.inc({ kind });
    if (kind === "takeover") ctx.metrics.leaseTakeovers.inc();
    const [environment, page] = await Promise.all([
      envs.getEnvironment(db.kysely, row.environment_id).then(
        (e) => e.config as EnvironmentConfig,
        () => null, // deleted environment: the harness reports tool calls as errors
      ),
      events.rangeWithin(db.kysely, session_id, 0, LOG_PAGE_EVENTS, ctx.config.maxReplyBytes),
    ]);
    const session: SessionRuntime = {
      id: row.id,
      status: row.archived_at ? "terminated" : (row.state as SessionState).status,
      agent: row.agent as SessionAgent,
      environment_id: row.environment_id,
      environment,
      vault_ids: row.vault_ids,
      last_seq: row.last_seq,
    };
    const log = { events: page, last_seq: Math.max(row.last_seq, page.at(-1)?.seq ?? 0) };
    return { epoch: row.lease_epoch, session, log };
  });

  const unfenced = ctx.config.unsafeDisableFencing === true;
  on(SessionLog.harnessAppend, async (req) => {
    const items = unfenced ? req.items.map((i) => ({ ...i, key: `${i.key}@${req.epoch}` })) : req.items;
    return writeSession(
      ctx,
      req.session_id,
      async (s) => {
        if (!unfenced && (s.row.lease_owner !== req.worker_id || s.row.lease_epoch !== req.epoch)) {
          throw new FencedError(`lease epoch ${req.epoch} of ${req.worker_id} is stale`, {
            details: { current_epoch: s.row.lease_epoch },
          });
        }
        if (s.row.archived_at) throw terminatedError();
        const seen = s.seen;
        const fresh = items.filter((i) => !seen.has(i.key));
        const plan =
          fresh.length > 0 ? planHarnessAppend(s.state, fresh, req.basis_seq, s.appendContext()) : undefined;
        const byKey = new Map(plan?.events.map((e) => [e.key, e]));
        const out = items.map((i) => {
          const e = seen.get(i.key) ?? byKey.get(i.key)!;
          return { seq: e.seq, event: e.event, internal: e.internal ?? null };
        });
        return {
          plan,
          releaseLease: req.release === true,
          result: { events: out, last_seq: plan?.lastSeq ?? s.row.last_seq },
        };
      },
      items.map((i) => i.key),
    );
  });

  on(SessionLog.harnessRelease, async ({ session_id, worker_id, epoch, rewake }) => {
    const released = await sessions.releaseLease(db.kysely, session_id, worker_id, epoch);
    if (released && rewake) {
      await ctx.bus.enqueueWake({ v: 1, session_id, reason: "handback", cause: `handback:${epoch}` });
    }
    return {};
  });

  on(SessionLog.workersHeartbeat, async ({ worker_id, ttl_ms, driving }) => {
    await workers.heartbeat(db.kysely, worker_id, ttl_ms);
    if (driving) {
      const idle = await sessions.releaseUndriven(db.kysely, worker_id, driving, ttl_ms);
      if (idle.length > 0) {
        ctx.log.warn("released leases their live worker was not using", { worker_id, sessions: idle });
      }
    }
    return {};
  });
}
