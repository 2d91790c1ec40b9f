/**
 * Client events: send (admission + append), list (cursor pages under a byte budget), and the
 * live-reader helpers `tail` (where a new stream starts) and `range` (gap backfill).
 */

import type { Registrar } from "@tendon/bus";
import { ConflictError, decodeCursor, encodeCursor, type SessionEvent, SessionLog } from "@tendon/contracts";
import type { HandlerContext } from "../context.js";
import { admitClientEvents, terminatedError } from "../domain/admission.js";
import type { SessionState } from "../domain/projection.js";
import * as events from "../store/events.repo.js";
import * as sessions from "../store/sessions.repo.js";
import { writeSession } from "../writer.js";

export function registerEventHandlers(ctx: HandlerContext, on: Registrar): void {
  const { db, config } = ctx;

  on(SessionLog.eventsSend, async ({ session_id, events: inputs }, hctx) => {
    const idem = hctx.headers?.get("Idempotency-Key") || undefined;
    const idemKeys = idem ? inputs.map((_, i) => `c:${idem}:${i}`) : [];
    return writeSession(
      ctx,
      session_id,
      async (s) => {
        if (s.row.archived_at) throw terminatedError();
        const ac = s.appendContext();
        const keys = idem ? idemKeys : inputs.map(() => `c:${ac.newEventId()}`);
        const keyOf = (i: number) => keys[i]!;
        if (idem) {
          const seen = s.seen;
          if (seen.size === inputs.length) {
            return { result: { data: inputs.map((_, i) => seen.get(keyOf(i))!.event) } };
          }
          if (seen.size > 0) {
            throw new ConflictError("Idempotency-Key was already used for a different request", {
              details: { error_code: "idempotency_key_reused" },
            });
          }
        }
        const plan = admitClientEvents(s.state, inputs, ac, keyOf);
        const sent = new Set(keys);
        return { plan, result: { data: plan.events.filter((e) => sent.has(e.key)).map((e) => e.event) } };
      },
      idemKeys,
    );
  });

  on(SessionLog.eventsList, async ({ session_id, query }) => {
    await sessions.getSession(db.kysely, session_id);
    const order = query.order ?? "asc";
    const limit = query.limit ?? 1000;
    const cursor = decodeCursor(query.page, order);
    const rows = await events.listEvents(db.kysely, {
      sessionId: session_id,
      query,
      order,
      limit,
      afterSeq: cursor ? Number(cursor.k[0]) : undefined,
    });
    // Stay under the reply budget: stop early (with a cursor) rather than overflow NATS max_payload.
    const data: SessionEvent[] = [];
    let bytes = 0;
    let lastSeq: number | undefined;
    for (const r of rows.slice(0, limit)) {
      if (data.length > 0 && bytes + r.size > config.maxReplyBytes) break;
      data.push(r.body);
      bytes += r.size + 1;
      lastSeq = r.seq;
    }
    const more = rows.length > data.length;
    return {
      data,
      next_page: more && lastSeq !== undefined ? encodeCursor({ o: order, d: "n", k: [lastSeq] }) : null,
    };
  });

  on(SessionLog.eventsTail, async ({ session_id }) => {
    const row = await sessions.getSession(db.kysely, session_id);
    return {
      last_seq: row.last_seq,
      status: row.archived_at ? "terminated" : (row.state as SessionState).status,
    };
  });

  on(SessionLog.eventsRange, async ({ session_id, after_seq, limit }) => {
    const row = await sessions.getSession(db.kysely, session_id);
    const got = await events.rangeWithin(db.kysely, session_id, after_seq, limit, config.maxReplyBytes);
    return { events: got, last_seq: row.last_seq };
  });
}
