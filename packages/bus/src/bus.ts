/**
 * `Bus`: one NATS connection with Tendon's subject catalog bound to it. Services receive a Bus and
 * never build subjects or encode payloads themselves.
 */
import type { NatsConnection, Subscription } from "@nats-io/nats-core";
import {
  type Endpoint,
  type HandExecuteReply,
  type HandExecuteRequest,
  type LiveMessage,
  subjects as makeSubjects,
  type RequestOf,
  type ResponseOf,
  type Subjects,
  type WakeMessage,
} from "@tendon/contracts";
import { type ConnectOptions, connectNats } from "./connection.js";
import {
  executeOnHand,
  type HandRegistry,
  type HandServer,
  type HandStores,
  handAlive,
  handRegistry,
  openHandStores,
  type ServeHandOptions,
  serveHand,
} from "./hands.js";
import { publishLive, subscribeLive } from "./live.js";
import { type Presence, probe, servePresence } from "./presence.js";
import { type Handler, type RequestOptions, type RpcObserver, request, serve } from "./rpc.js";
import {
  type ConsumeOptions,
  consumeWakes,
  enqueueWake,
  ensureWakeConsumer,
  ensureWakeStream,
  type WakeConsumer,
  type WakeQueueConfig,
  type WakeQueueStats,
  wakeQueueStats,
} from "./wake.js";

export interface BusOptions extends ConnectOptions {
  prefix: string;
  /** Create the hand KV buckets when missing (services); hands with scoped credentials only bind. @default true */
  createHandStores?: boolean;
}

export interface Bus {
  readonly nc: NatsConnection;
  readonly subjects: Subjects;
  request<E extends Endpoint>(e: E, req: RequestOf<E>, opts?: RequestOptions): Promise<ResponseOf<E>>;
  serve<E extends Endpoint>(e: E, handler: Handler<E>, observer?: RpcObserver): Subscription;
  publishLive(sessionId: string, msg: LiveMessage): void;
  subscribeLive(
    sessionId: string,
    onMessage: (m: LiveMessage) => void,
    onInvalid?: (e: unknown) => void,
  ): Subscription;
  /** Stream only (publishers). */
  ensureWakeStream(): Promise<void>;
  /** Stream and the shared durable consumer (harness workers). */
  ensureWakeConsumer(cfg?: WakeQueueConfig): Promise<void>;
  enqueueWake(msg: WakeMessage): Promise<{ duplicate: boolean }>;
  consumeWakes(opts: ConsumeOptions): WakeConsumer;
  /** The shared wake consumer's backlog (harness workers export it as metrics). */
  wakeQueueStats(): Promise<WakeQueueStats>;
  /** Tells long-polling work pollers of an environment that an item was queued. */
  notifyWorkAvailable(environmentId: string): void;
  /** Resolves when work is signalled for the environment, or after `timeoutMs`. */
  waitForWork(environmentId: string, timeoutMs: number): { ready: Promise<void>; cancel(): void };
  /** Serves `execute` for a hand and announces it in the registry. */
  serveHand(opts: ServeHandOptions): Promise<HandServer>;
  /** `execute(name, input)`: throws `unavailable` (error_code hand_not_found) when no such hand lives. */
  executeOnHand(name: string, req: HandExecuteRequest): Promise<HandExecuteReply>;
  hands(): Promise<HandRegistry>;
  /** Whether a hand of that name answers right now. */
  handAlive(name: string): Promise<boolean>;
  /** Answers presence probes for `processId` while this connection lives (see presence.ts). */
  servePresence(processId: string): Promise<Subscription>;
  /** "gone" as soon as that process's connection has closed; "unknown" when it does not answer. */
  probePresence(processId: string, timeoutMs?: number): Promise<Presence>;
  /** Largest payload the server accepts, in bytes. */
  maxPayload(): number;
  /** Flushes pending publishes and closes. */
  close(): Promise<void>;
}

export function bindBus(nc: NatsConnection, prefix: string, opts: { createHandStores?: boolean } = {}): Bus {
  const s = makeSubjects(prefix);
  let stores: Promise<HandStores> | undefined;
  const handStores = () => {
    stores ??= openHandStores(nc, s, { create: opts.createHandStores !== false }).catch((e: unknown) => {
      stores = undefined;
      throw e;
    });
    return stores;
  };
  return {
    nc,
    subjects: s,
    request: (e, req, opts) => request(nc, s, e, req, opts),
    serve: (e, handler, observer) => serve(nc, s, e, handler, observer),
    publishLive: (id, msg) => publishLive(nc, s, id, msg),
    subscribeLive: (id, cb, onInvalid) => subscribeLive(nc, s, id, cb, onInvalid),
    ensureWakeStream: () => ensureWakeStream(nc, s),
    ensureWakeConsumer: (cfg) => ensureWakeConsumer(nc, s, cfg),
    enqueueWake: (msg) => enqueueWake(nc, s, msg),
    consumeWakes: (opts) => consumeWakes(nc, s, opts),
    wakeQueueStats: () => wakeQueueStats(nc, s),
    notifyWorkAvailable: (environmentId) => nc.publish(s.workAvailable(environmentId)),
    waitForWork: (environmentId, timeoutMs) => {
      let timer: NodeJS.Timeout | undefined;
      let done!: () => void;
      const ready = new Promise<void>((resolve) => {
        done = resolve;
      });
      const sub = nc.subscribe(s.workAvailable(environmentId), { max: 1, callback: () => finish() });
      const finish = () => {
        if (timer) clearTimeout(timer);
        sub.unsubscribe();
        done();
      };
      timer = setTimeout(finish, timeoutMs);
      return { ready, cancel: finish };
    },
    serveHand: async (opts) => serveHand(nc, s, await handStores(), opts),
    executeOnHand: async (name, req) =>
      executeOnHand(nc, s, name, req, { stores: await handStores().catch(() => undefined) }),
    hands: async () => handRegistry(await handStores()),
    handAlive: (name) => handAlive(nc, s, name),
    servePresence: (id) => servePresence(nc, s.presence(id)),
    probePresence: (id, timeoutMs = 500) => probe(nc, s.presence(id), undefined, timeoutMs),
    maxPayload: () => nc.info?.max_payload ?? 1024 * 1024,
    close: async () => {
      if (nc.isClosed()) return;
      await nc.drain();
    },
  };
}

export async function createBus(opts: BusOptions): Promise<Bus> {
  const nc = await connectNats(opts);
  return bindBus(
    nc,
    opts.prefix,
    opts.createHandStores === undefined ? {} : { createHandStores: opts.createHandStores },
  );
}
