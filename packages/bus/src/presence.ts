/**
 * Presence: a process answers on its own subject for as long as its NATS connection lives. When
 * the process dies, the kernel closes its socket, the server drops its subscriptions, and a probe
 * gets "no responders" at once: far sooner than any heartbeat TTL can say the same. A probe that
 * times out means busy or frozen, never gone (a paused process keeps its connection; only its
 * lease TTL and fencing deal with it).
 */
import type { NatsConnection, Subscription } from "@nats-io/nats-core";

export type Presence = "alive" | "gone" | "unknown";

export async function probe(
  nc: NatsConnection,
  subject: string,
  payload: Uint8Array | undefined,
  timeoutMs: number,
): Promise<Presence> {
  try {
    await nc.request(subject, payload, { timeout: timeoutMs });
    return "alive";
  } catch (err) {
    const text = err instanceof Error ? err.message : String(err);
    if (/no responders/i.test(text) || (err as { code?: string }).code === "503") return "gone";
    return "unknown";
  }
}

/**
 * Answers presence probes on `subject` until unsubscribed. Checks itself first: without the
 * permission to subscribe or to reply, every probe would say "gone" and this process would lose
 * whatever it holds, so that is a start-up error instead.
 */
export async function servePresence(nc: NatsConnection, subject: string): Promise<Subscription> {
  const sub = nc.subscribe(subject, { callback: (_err, m) => void m.respond() });
  await nc.flush();
  const self = await probe(nc, subject, undefined, 2_000);
  if (self !== "alive") {
    sub.unsubscribe();
    throw new Error(
      `presence subject ${subject} does not answer (${self}); check this user's NATS permissions`,
    );
  }
  return sub;
}
