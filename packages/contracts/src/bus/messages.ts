/**
 * Messages that travel on the bus outside request/reply: wake-ups and live fan-out.
 */
import { z } from "zod";
import { SessionEvent, StreamPreview } from "../api/events.js";
import { SessionId } from "../common.js";

/** Why a session was woken; informational (the harness always re-derives from the log). */
export const WakeReason = z.enum(["input", "sweep", "handback", "redelivery"]);

export const WakeMessage = z.object({
  v: z.literal(1),
  session_id: SessionId,
  reason: WakeReason,
  /** The log position that caused the wake-up; with `session_id` it forms the JetStream msg id. */
  cause: z.string().max(128),
});
export type WakeMessage = z.infer<typeof WakeMessage>;

export function wakeMessageId(m: WakeMessage): string {
  return `${m.session_id}:${m.cause}`;
}

/**
 * Live fan-out on `live.<sessionId>`: committed events carry their `seq` so readers can dedupe
 * and detect gaps; previews carry none; `closed` tells readers the session is gone.
 */
export const LiveMessage = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("event"), seq: z.number().int().positive(), event: SessionEvent }),
  z.object({ kind: z.literal("preview"), preview: StreamPreview }),
  z.object({
    kind: z.literal("closed"),
    event: z.object({ id: z.string(), type: z.literal("session.deleted"), processed_at: z.string() }),
  }),
]);
export type LiveMessage = z.infer<typeof LiveMessage>;
