/**
 * The `wake(sessionId)` work queue on JetStream.
 *
 * A WorkQueue stream `<PREFIX>_WAKE` holds wake-ups; one durable pull consumer is shared by every
 * harness worker. Publishing uses `Nats-Msg-Id = <sessionId>:<cause>` so a retried enqueue within
 * the duplicate window is dropped. Wake-ups are hints: a worker always re-derives what to do from
 * the log, so a lost or repeated wake-up is harmless (the session-log sweeper covers lost ones).
 *
 * Delivery: each consumer loop pulls one message at a time (`next()`), so a worker never holds more
 * messages than it has capacity for and nothing sits unacked in a client buffer.
 */
import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  type JsMsg,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
} from "@nats-io/jetstream";
import { type NatsConnection, nanos } from "@nats-io/nats-core";
import { ROOT_CONTEXT } from "@opentelemetry/api";
import { type Subjects, WakeMessage, wakeMessageId } from "@tendon/contracts";
import { decodeJson, encodeJson } from "./codec.js";
import {
  activate,
  endSpan,
  incomingContext,
  SpanKind,
  startIncoming,
  startOutgoing,
  withTraceHeaders,
} from "./tracing.js";

export interface WakeQueueConfig {
  /** Redelivery after this long without ack or `working()`. @default 30_000 */
  ackWaitMs?: number;
  /** Deliveries before JetStream stops redelivering. @default 8 */
  maxDeliver?: number;
}

/** Creates (or updates) the wake stream. Publishers need only this. */
export async function ensureWakeStream(nc: NatsConnection, subjects: Subjects): Promise<void> {
  const jsm = await jetstreamManager(nc);
  const name = subjects.wakeStream();
  const streamConfig = {
    name,
    subjects: [subjects.wakeAll()],
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    duplicate_window: nanos(120_000),
    max_age: nanos(24 * 3600_000),
    num_replicas: 1,
  };
  try {
    await jsm.streams.info(name);
    await jsm.streams.update(name, streamConfig);
  } catch {
    await jsm.streams.add(streamConfig);
  }
}

/** Creates (or updates) the harness's durable consumer; its settings belong to the harness. */
export async function ensureWakeConsumer(
  nc: NatsConnection,
  subjects: Subjects,
  cfg: WakeQueueConfig = {},
): Promise<void> {
  await ensureWakeStream(nc, subjects);
  const jsm = await jetstreamManager(nc);
  const name = subjects.wakeStream();
  const consumerConfig = {
    durable_name: subjects.wakeConsumer(),
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(cfg.ackWaitMs ?? 30_000),
    max_deliver: cfg.maxDeliver ?? 8,
    max_ack_pending: 20_000,
    filter_subject: subjects.wakeAll(),
  };
  try {
    await jsm.consumers.info(name, consumerConfig.durable_name);
    await jsm.consumers.update(name, consumerConfig.durable_name, {
      ack_wait: consumerConfig.ack_wait,
      max_deliver: consumerConfig.max_deliver,
      max_ack_pending: consumerConfig.max_ack_pending,
    });
  } catch {
    await jsm.consumers.add(name, consumerConfig);
  }
}

export async function enqueueWake(
  nc: NatsConnection,
  subjects: Subjects,
  msg: WakeMessage,
): Promise<{ duplicate: boolean }> {
  const js = jetstream(nc);
  // The wake-up carries the context of whatever appended (a client's request, a tool result), so
  // the harness turn it starts joins that trace.
  const span = startOutgoing("publish wake", SpanKind.PRODUCER, {
    "messaging.system": "nats",
    "messaging.operation.type": "send",
    "messaging.destination.name": subjects.wakeAll(),
    "tendon.session_id": msg.session_id,
    "tendon.wake.reason": msg.reason,
  });
  try {
    const headers = withTraceHeaders(span);
    const ack = await js.publish(subjects.wake(msg.session_id), encodeJson(WakeMessage.parse(msg)), {
      msgID: wakeMessageId(msg),
      ...(headers ? { headers } : {}),
    });
    span?.setAttribute("tendon.wake.duplicate", ack.duplicate);
    endSpan(span);
    return { duplicate: ack.duplicate };
  } catch (err) {
    endSpan(span, err);
    throw err;
  }
}

export interface WakeDelivery {
  readonly message: WakeMessage;
  /** 1 on first delivery. */
  readonly deliveryCount: number;
  /** Extends the ack deadline (call during long model calls). */
  working(): void;
  /** Acknowledges after the turn's effects are durable; resolves once the server confirmed. */
  ack(): Promise<void>;
  nak(delayMs?: number): void;
  term(reason?: string): void;
}

export interface ConsumeOptions {
  /** Wake-ups handled at once by this process. */
  concurrency: number;
  handler: (d: WakeDelivery) => Promise<void>;
  /** Consumer-level problems (server gone, consumer missing); the loop keeps retrying. */
  onError?: (err: unknown) => void;
  /** Poison messages (unparseable) are terminated and reported here. */
  onPoison?: (err: unknown) => void;
  /** Pull wait per request. @default 2_000 */
  pullExpiresMs?: number;
}

export interface WakeConsumer {
  /** Stops pulling, waits for in-flight handlers. */
  stop(): Promise<void>;
  inFlight(): number;
}

function delivery(m: JsMsg, message: WakeMessage): WakeDelivery {
  return {
    message,
    deliveryCount: m.info.deliveryCount,
    working: () => m.working(),
    ack: async () => {
      await m.ackAck();
    },
    nak: (delayMs) => m.nak(delayMs),
    term: (reason) => m.term(reason),
  };
}

export function consumeWakes(nc: NatsConnection, subjects: Subjects, opts: ConsumeOptions): WakeConsumer {
  const js = jetstream(nc);
  let stopping = false;
  const inFlight = new Set<Promise<void>>();
  let slotFreed: (() => void) | undefined;

  const dispatch = (m: JsMsg) => {
    let parsed: WakeMessage;
    try {
      parsed = WakeMessage.parse(decodeJson(m.data));
    } catch (err) {
      m.term("unparseable wake message");
      opts.onPoison?.(err);
      return;
    }
    // Every wake-up is handled in a CONSUMER span: a child of the publisher's when it sent one.
    const parent = incomingContext(m.headers) ?? ROOT_CONTEXT;
    const span = startIncoming("process wake", SpanKind.CONSUMER, parent, {
      "messaging.system": "nats",
      "messaging.operation.type": "process",
      "messaging.destination.name": subjects.wakeAll(),
      "tendon.session_id": parsed.session_id,
      "tendon.wake.reason": parsed.reason,
      "tendon.wake.delivery_count": m.info.deliveryCount,
    });
    const p = activate(parent, span, () => opts.handler(delivery(m, parsed))).then(
      () => endSpan(span),
      (err: unknown) => {
        endSpan(span, err);
        opts.onError?.(err);
      },
    );
    inFlight.add(p);
    void p.finally(() => {
      inFlight.delete(p);
      slotFreed?.();
    });
  };

  // One pull at a time, only while there is capacity: a worker never holds wake-ups it cannot
  // start, so a paused process can sit on at most one (redelivered after ack_wait).
  const loop = async () => {
    let backoff = 100;
    while (!stopping) {
      try {
        const consumer = await js.consumers.get(subjects.wakeStream(), subjects.wakeConsumer());
        while (!stopping) {
          while (inFlight.size >= opts.concurrency && !stopping) {
            await new Promise<void>((r) => {
              slotFreed = r;
            });
          }
          if (stopping) break;
          const m = await consumer.next({ expires: opts.pullExpiresMs ?? 2_000 });
          backoff = 100;
          if (!m) continue;
          if (stopping) {
            m.nak();
            break;
          }
          dispatch(m);
        }
      } catch (err) {
        if (stopping) break;
        opts.onError?.(err);
        await new Promise((r) => setTimeout(r, backoff));
        backoff = Math.min(backoff * 2, 2_000);
      }
    }
  };
  const running = loop();

  return {
    stop: async () => {
      stopping = true;
      slotFreed?.();
      await running;
      await Promise.allSettled([...inFlight]);
    },
    inFlight: () => inFlight.size,
  };
}

/** The shared wake consumer's backlog, for metrics (`tendon_wake_queue_*`). */
export interface WakeQueueStats {
  /** Wake-ups no worker has taken yet (the consumer's `num_pending`). */
  pending: number;
  /** Wake-ups taken and not yet acked (turns in progress, or waiting for redelivery). */
  ackPending: number;
  /** Age of the oldest wake-up no worker has taken yet; 0 when there is none. */
  oldestPendingAgeMs: number;
}

/**
 * Reads the shared consumer's info and, when wake-ups are waiting, the first one not yet
 * delivered (stream sequence after the consumer's delivered one: the stream holds only wake-ups,
 * and a work queue removes a message only once it is acked) for its age.
 */
export async function wakeQueueStats(
  nc: NatsConnection,
  subjects: Subjects,
  now: () => number = Date.now,
): Promise<WakeQueueStats> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.consumers.info(subjects.wakeStream(), subjects.wakeConsumer());
  let oldestPendingAgeMs = 0;
  if (info.num_pending > 0) {
    const first = await jsm.streams
      .getMessage(subjects.wakeStream(), { seq: info.delivered.stream_seq + 1 })
      .catch(() => null); // expired or purged meanwhile (policy: the age is a gauge; the next scrape has it)
    if (first) oldestPendingAgeMs = Math.max(0, now() - first.time.getTime());
  }
  return { pending: info.num_pending, ackPending: info.num_ack_pending, oldestPendingAgeMs };
}
