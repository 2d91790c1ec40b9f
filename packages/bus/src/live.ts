/**
 * Live fan-out of a session's committed events and previews on `live.<sessionId>`.
 * Best effort by design: readers dedupe by `seq` and backfill gaps from the log.
 */
import type { NatsConnection, Subscription } from "@nats-io/nats-core";
import { LiveMessage, type Subjects } from "@tendon/contracts";
import { decodeJson, encodeJson } from "./codec.js";

export function publishLive(
  nc: NatsConnection,
  subjects: Subjects,
  sessionId: string,
  msg: LiveMessage,
): void {
  nc.publish(subjects.live(sessionId), encodeJson(msg));
}

export function subscribeLive(
  nc: NatsConnection,
  subjects: Subjects,
  sessionId: string,
  onMessage: (msg: LiveMessage) => void,
  onInvalid?: (err: unknown) => void,
): Subscription {
  return nc.subscribe(subjects.live(sessionId), {
    callback: (err, m) => {
      if (err) return;
      try {
        onMessage(LiveMessage.parse(decodeJson(m.data)));
      } catch (e) {
        onInvalid?.(e);
      }
    },
  });
}
