/**
 * `GET /v1/sessions/{id}/events/stream` (spec §4): server-sent events of everything committed to
 * the session's log after the stream was opened, plus opt-in previews.
 *
 * Invariants:
 * - The live subscription is registered before the baseline is read and before headers are
 *   flushed, so nothing committed after the flush can be missed.
 * - No replay: events at or below the baseline `seq` are never sent.
 * - Each event is written once, in `seq` order: duplicates from the bus are dropped, and a gap is
 *   filled from the log before the event after it is written. Pings (and a NATS reconnect) also
 *   catch up from the log, so a lost last event is delivered too.
 * - Every SSE message has an `event:` line; the stream stays open across turns and closes after
 *   `session.status_terminated` or `session.deleted`.
 * - A client that cannot keep up (more than `maxBufferedBytes` unsent) is disconnected; it
 *   reconnects and lists the events it missed, as the SDK does.
 */
import type { ServerResponse } from "node:http";
import type { Bus, Subscription } from "@tendon/bus";
import {
  type DeltaEventType,
  isSubjectToken,
  type LiveMessage,
  NotFoundError,
  type Principal,
  SessionEvent,
  SessionLog,
  StreamPreview,
  StreamQuery,
} from "@tendon/contracts";
import { type Logger, serializeError } from "@tendon/runtime";
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { asArray } from "../http/query.js";
import { addRoute } from "../http/route.js";
import { IdParam } from "./resources.js";

export interface StreamConfig {
  pingMs: number;
  maxBufferedBytes: number;
}

export interface StreamRegistry {
  /** Catch every open stream up from the log (after a NATS reconnect). */
  resyncAll(): void;
  size(): number;
  closeAll(): void;
}

const StreamQueryIn = z.preprocess(
  (q) =>
    q && typeof q === "object"
      ? { ...q, event_deltas: asArray((q as Record<string, unknown>).event_deltas) }
      : q,
  StreamQuery,
);

/** What one SSE `data:` line holds: an event, a preview, or a keep-alive. */
const StreamData = z.union([SessionEvent, StreamPreview, z.object({ type: z.literal("ping") })]);

class SessionStream {
  private expected = 0;
  private chain: Promise<void>;
  private startBaseline!: (seq: number) => void;
  private closed = false;
  private sub: Subscription | undefined;
  private ping: NodeJS.Timeout | undefined;
  private readonly previewIds = new Set<string>();
  private res: ServerResponse | undefined;

  constructor(
    private readonly bus: Bus,
    private readonly sessionId: string,
    private readonly deltas: ReadonlySet<DeltaEventType>,
    private readonly cfg: StreamConfig,
    private readonly log: Logger,
    private readonly onClose: () => void,
  ) {
    this.chain = new Promise((resolve) => {
      this.startBaseline = (seq) => {
        this.expected = seq;
        resolve();
      };
    });
  }

  /** Subscribes, then reads where the log is; throws (e.g. 404) before anything is written. */
  async open(): Promise<{ terminated: boolean }> {
    this.sub = this.bus.subscribeLive(
      this.sessionId,
      (m) => this.enqueue(() => this.onLive(m)),
      (err) =>
        this.log.warn("invalid live message", { session_id: this.sessionId, err: serializeError(err) }),
    );
    try {
      const tail = await this.bus.request(SessionLog.eventsTail, { session_id: this.sessionId });
      this.startBaseline(tail.last_seq);
      return { terminated: tail.status === "terminated" };
    } catch (e) {
      this.sub.unsubscribe();
      throw e;
    }
  }

  attach(res: ServerResponse): void {
    this.res = res;
    res.on("close", () => this.close());
    this.ping = setInterval(() => {
      this.write("ping", { type: "ping" });
      this.resync();
    }, this.cfg.pingMs);
    this.ping.unref();
  }

  resync(): void {
    this.enqueue(() => this.backfill(Number.POSITIVE_INFINITY));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.sub?.unsubscribe();
    if (this.ping) clearInterval(this.ping);
    if (this.res && !this.res.writableEnded) this.res.end();
    this.onClose();
  }

  private enqueue(task: () => Promise<void> | void): void {
    this.chain = this.chain
      .then(() => (this.closed ? undefined : task()))
      .catch((err: unknown) => {
        this.log.warn("stream delivery failed; closing", {
          session_id: this.sessionId,
          err: serializeError(err),
        });
        this.close();
      });
  }

  private async onLive(m: LiveMessage): Promise<void> {
    switch (m.kind) {
      case "event":
        if (m.seq <= this.expected) return;
        if (m.seq > this.expected + 1) await this.backfill(m.seq - 1);
        if (m.seq === this.expected + 1) this.deliver(m.seq, m.event);
        return;
      case "preview": {
        const p = m.preview;
        if (p.type === "event_start") {
          if (!this.deltas.has(p.event.type)) return;
          this.previewIds.add(p.event.id);
        } else if (!this.previewIds.has(p.event_id)) return;
        this.write(p.type, p);
        return;
      }
      case "closed":
        this.write(m.event.type, m.event);
        this.close();
        return;
    }
  }

  /** Writes every logged event after `expected`, up to `upTo`, from the session-log. */
  private async backfill(upTo: number): Promise<void> {
    while (!this.closed && this.expected < upTo) {
      const r = await this.bus.request(SessionLog.eventsRange, {
        session_id: this.sessionId,
        after_seq: this.expected,
        limit: Number.isFinite(upTo) ? Math.min(1000, upTo - this.expected) : 1000,
      });
      if (r.events.length === 0) return;
      for (const e of r.events) {
        if (e.seq > upTo || this.closed) return;
        this.deliver(e.seq, e.event);
      }
    }
  }

  private deliver(seq: number, event: SessionEvent): void {
    this.expected = seq;
    if (event.type === "agent.message") this.previewIds.delete(event.id);
    this.write(event.type, event);
    if (event.type === "session.status_terminated") this.close();
  }

  private write(type: string, data: unknown): void {
    const res = this.res;
    if (!res || this.closed || res.writableEnded) return;
    res.write(`event: ${type}\ndata: ${JSON.stringify(data)}\n\n`);
    if (res.writableLength > this.cfg.maxBufferedBytes) {
      this.log.warn("stream client too slow; disconnecting", { session_id: this.sessionId });
      this.close();
    }
  }
}

export function registerStreamRoutes(
  app: FastifyInstance,
  bus: Bus,
  log: Logger,
  cfg: StreamConfig,
  canReadSession: (p: Principal, sessionId: string) => Promise<boolean>,
): StreamRegistry {
  const open = new Set<SessionStream>();
  for (const url of ["/v1/sessions/:id/events/stream", "/v1/sessions/:id/stream"]) {
    addRoute(app, {
      method: "GET",
      url,
      doc: {
        summary: url.endsWith("/events/stream")
          ? "Stream session events"
          : "Stream session events (short path)",
        eventStream: StreamData,
      },
      params: IdParam,
      query: StreamQueryIn,
      allow: (p, params) => canReadSession(p, params.id),
      handler: async ({ params, query, reply, req }) => {
        // An id no session can have (it could not name a live subject either) is simply unknown.
        if (!isSubjectToken(params.id)) throw new NotFoundError(`session ${params.id} not found`);
        const deltas = new Set(query.event_deltas ?? []);
        const stream = new SessionStream(bus, params.id, deltas, cfg, log, () => open.delete(stream));
        const { terminated } = await stream.open();
        open.add(stream);
        reply.hijack();
        const res = reply.raw;
        res.writeHead(200, {
          "content-type": "text/event-stream; charset=utf-8",
          "cache-control": "no-cache, no-transform",
          connection: "keep-alive",
          "x-accel-buffering": "no",
          "request-id": req.requestId,
        });
        res.socket?.setNoDelay(true);
        res.socket?.setTimeout(0);
        res.write(": connected\n\n");
        stream.attach(res);
        if (terminated) stream.close();
      },
    });
  }
  return {
    resyncAll: () => {
      for (const s of open) s.resync();
    },
    size: () => open.size,
    closeAll: () => {
      for (const s of [...open]) s.close();
    },
  };
}
