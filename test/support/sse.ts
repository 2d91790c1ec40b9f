/**
 * Helpers to consume an SDK event stream in tests: collect events until a condition holds.
 */
import type Anthropic from "@anthropic-ai/sdk";

type StreamEvent = Anthropic.Beta.Sessions.BetaManagedAgentsStreamSessionEvents;

export interface Collected {
  events: StreamEvent[];
  /** Resolves with the events so far once `until` returns true for one of them. */
  until(pred: (e: StreamEvent, all: StreamEvent[]) => boolean, timeoutMs?: number): Promise<StreamEvent[]>;
  close(): void;
  /** Resolves when the server closed the stream. */
  ended: Promise<void>;
}

export async function collect(
  client: Anthropic,
  sessionId: string,
  query: Record<string, unknown> = {},
): Promise<Collected> {
  const stream = await client.beta.sessions.events.stream(sessionId, query as never);
  const events: StreamEvent[] = [];
  const waiters: Array<{
    pred: (e: StreamEvent, all: StreamEvent[]) => boolean;
    resolve: (v: StreamEvent[]) => void;
  }> = [];
  const ended = (async () => {
    try {
      for await (const e of stream) {
        events.push(e);
        for (const w of [...waiters]) {
          if (w.pred(e, events)) {
            waiters.splice(waiters.indexOf(w), 1);
            w.resolve([...events]);
          }
        }
      }
    } catch (err) {
      if ((err as Error).name !== "AbortError" && !/abort/i.test(String(err))) throw err;
    }
  })();
  return {
    events,
    ended,
    until(pred, timeoutMs = 20_000) {
      const hit = events.find((e) => pred(e, events));
      if (hit) return Promise.resolve([...events]);
      return new Promise((resolve, reject) => {
        const t = setTimeout(
          () =>
            reject(
              new Error(
                `stream condition not met in ${timeoutMs} ms; got: ${events.map((e) => e.type).join(", ")}`,
              ),
            ),
          timeoutMs,
        );
        waiters.push({
          pred,
          resolve: (v) => {
            clearTimeout(t);
            resolve(v);
          },
        });
      });
    },
    close: () => stream.controller.abort(),
  };
}

export const isIdle = (e: { type: string }) => e.type === "session.status_idle";
export const isEndTurn = (e: StreamEvent) =>
  e.type === "session.status_idle" && e.stop_reason.type === "end_turn";
