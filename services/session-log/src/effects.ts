/**
 * After-commit effects. They are best effort by design: a lost live message is backfilled by
 * readers from the log, and a lost wake-up is recovered by the sweeper.
 */
import type { Bus } from "@tendon/bus";
import { type Logger, serializeError } from "@tendon/runtime";
import type { Effects } from "./context.js";

export function createEffects(bus: Bus, log: Logger): Effects {
  return {
    async committed(sessionId, events, wake) {
      for (const { seq, event } of events) {
        try {
          bus.publishLive(sessionId, { kind: "event", seq, event });
        } catch (err) {
          log.warn("live publish failed", { session_id: sessionId, seq, err: serializeError(err) });
        }
      }
      if (!wake) return;
      const last = events.at(-1)?.seq ?? 0;
      try {
        await bus.enqueueWake({ v: 1, session_id: sessionId, reason: "input", cause: `in:${last}` });
      } catch (err) {
        log.warn("wake enqueue failed; the sweeper will recover it", {
          session_id: sessionId,
          err: serializeError(err),
        });
      }
    },
    deleted(sessionId, at, eventId) {
      try {
        bus.publishLive(sessionId, {
          kind: "closed",
          event: { id: eventId, type: "session.deleted", processed_at: at.toISOString() },
        });
      } catch (err) {
        log.warn("live publish failed", { session_id: sessionId, err: serializeError(err) });
      }
    },
  };
}
