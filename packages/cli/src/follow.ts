/**
 * Follows a session's events across disconnects: the documented recovery of the Managed Agents
 * API (open the stream, then list what was missed, dedupe by event id), as the SDK's own
 * SessionToolRunner does.
 *
 * Invariants:
 * - Each persisted event reaches `onEvent` once, in log order, whatever the number of reconnects:
 *   the stream is opened before the catch-up list, listed events are remembered by id, and stream
 *   events already listed are dropped. The catch-up lists newest-first and stops at the newest
 *   event already delivered, so a reconnect costs only what was missed.
 * - Previews (`event_start`/`event_delta`, stream-only) pass through only from the live
 *   connection; the buffered event that follows them is canonical.
 * - Network failures, 408/409/429 and 5xx reconnect with capped exponential backoff (0.5 s → 10 s);
 *   other API errors (bad key, unknown session) end the follow with that error.
 */
import type Anthropic from "@anthropic-ai/sdk";
import { isRetryable } from "./explain.js";
import type { StreamEvent } from "./render.js";

export type FollowVerdict = "continue" | "stop";

export interface FollowOptions {
  client: Anthropic;
  sessionId: string;
  /** Past events to deliver on the first connection: a count, or "all". */
  history: number | "all";
  /** Ask for `agent.message` text previews. */
  deltas?: boolean;
  onEvent(e: StreamEvent, live: boolean): FollowVerdict;
  /** Past events of the first catch-up that `history` leaves out, in order. */
  onSkipped?: (e: StreamEvent) => void;
  /** Awaited once, after the first connection is up and caught up (run sends its message here). */
  onReady?: () => Promise<void>;
  /** Connection notices ("connection lost; reconnecting in 1s"). */
  onNotice?: (text: string) => void;
  signal?: AbortSignal;
  /** Backoff bounds, ms. */
  backoff?: { initialMs: number; maxMs: number };
  /** How many recent events the first catch-up reads at least (for deduplication). Default 1000. */
  firstWindow?: number;
}

export type FollowEnd = "stopped" | "ended" | "aborted";

const isPreview = (e: StreamEvent) => e.type === "event_start" || e.type === "event_delta";

/** Keeps the ids of the most recent `max` events. */
class RecentIds {
  private readonly ids = new Set<string>();
  constructor(private readonly max: number) {}
  has(id: string): boolean {
    return this.ids.has(id);
  }
  add(id: string): void {
    this.ids.add(id);
    if (this.ids.size > this.max) {
      const oldest = this.ids.values().next().value;
      if (oldest !== undefined) this.ids.delete(oldest);
    }
  }
}

export async function follow(opts: FollowOptions): Promise<FollowEnd> {
  const { client, sessionId, signal } = opts;
  const backoff = opts.backoff ?? { initialMs: 500, maxMs: 10_000 };
  const seen = new RecentIds(50_000);
  let newest: string | undefined;
  let first = true;
  let failures = 0;

  const wait = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      signal?.addEventListener("abort", () => {
        clearTimeout(t);
        resolve();
      });
    });
  const retryLater = async (err: unknown, what: string) => {
    if (!isRetryable(err)) throw err;
    const ms = Math.min(backoff.maxMs, backoff.initialMs * 2 ** failures);
    failures++;
    opts.onNotice?.(`${what}; reconnecting in ${(ms / 1000).toFixed(1)}s`);
    await wait(ms * (0.8 + Math.random() * 0.4));
  };

  while (!signal?.aborted) {
    const controller = new AbortController();
    const onAbort = () => controller.abort();
    signal?.addEventListener("abort", onAbort);
    try {
      let stream: AsyncIterable<StreamEvent>;
      try {
        stream = await client.beta.sessions.events.stream(
          sessionId,
          opts.deltas ? { event_deltas: ["agent.message"] } : {},
          { signal: controller.signal, maxRetries: 0 },
        );
      } catch (err) {
        if (signal?.aborted) return "aborted";
        await retryLater(err, "cannot open the event stream");
        continue;
      }

      // Buffer the live stream while the catch-up runs.
      const queue: StreamEvent[] = [];
      let done = false;
      let streamError: unknown;
      let wake: (() => void) | undefined;
      const pump = (async () => {
        try {
          for await (const e of stream) {
            queue.push(e);
            wake?.();
          }
        } catch (err) {
          streamError = err;
        } finally {
          done = true;
          wake?.();
        }
      })();

      let missed: StreamEvent[];
      try {
        const window =
          opts.history === "all"
            ? Number.POSITIVE_INFINITY
            : Math.max(opts.history, opts.firstWindow ?? 1000);
        missed = await catchUp(client, sessionId, newest, first ? window : undefined, controller.signal);
      } catch (err) {
        controller.abort();
        await pump;
        if (signal?.aborted) return "aborted";
        await retryLater(err, "cannot list the session's events");
        continue;
      }
      const showFrom = first && opts.history !== "all" ? Math.max(0, missed.length - opts.history) : 0;
      for (const [i, e] of missed.entries()) {
        if (!("id" in e)) continue;
        seen.add(e.id);
        newest = e.id;
        if (i < showFrom) opts.onSkipped?.(e);
        else if (opts.onEvent(e, false) === "stop") {
          controller.abort();
          await pump;
          return "stopped";
        }
      }
      if (first) {
        first = false;
        await opts.onReady?.();
      }
      failures = 0;

      let ended = false;
      for (;;) {
        const e = queue.shift();
        if (e === undefined) {
          if (done) break;
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
          wake = undefined;
          continue;
        }
        if (!isPreview(e)) {
          if (!("id" in e) || seen.has(e.id)) continue;
          seen.add(e.id);
          newest = e.id;
        }
        if (e.type === "session.status_terminated" || e.type === "session.deleted") ended = true;
        if (opts.onEvent(e, true) === "stop") {
          controller.abort();
          await pump;
          return "stopped";
        }
      }
      if (signal?.aborted) return "aborted";
      if (ended) return "ended";
      await retryLater(streamError ?? new TypeError("terminated"), "the event stream closed");
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
  }
  return "aborted";
}

/**
 * The events after `newest`, oldest first: lists newest-first until it meets `newest`. Without
 * `newest` (first connection) it returns at most `window` events: the most recent ones.
 */
async function catchUp(
  client: Anthropic,
  sessionId: string,
  newest: string | undefined,
  window: number | undefined,
  signal: AbortSignal,
): Promise<StreamEvent[]> {
  const out: StreamEvent[] = [];
  const limit = newest ? 100 : Math.max(1, Math.min(window ?? 1000, 1000));
  for await (const e of client.beta.sessions.events.list(
    sessionId,
    { order: "desc", limit },
    { signal, maxRetries: 0 },
  )) {
    if (newest !== undefined && e.id === newest) break;
    out.push(e as StreamEvent);
    if (newest === undefined && out.length >= (window ?? 1000)) break;
  }
  return out.reverse();
}
