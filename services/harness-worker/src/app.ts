/**
 * createHarnessWorker(deps): pulls wake-ups, takes the session's lease (epoch + 1), drives the
 * session, and acks the wake-up only once the turn's effects are in the log.
 *
 * Liveness: one heartbeat per worker keeps every lease it holds; if the process dies or pauses,
 * the heartbeat row expires, the session-log sweeper re-wakes its sessions and another worker
 * takes them over with a higher epoch (the old one's writes are then rejected). A process that
 * dies is found sooner: it answers presence probes on NATS for as long as its connection lives,
 * and the sweeper ends its liveness as soon as a probe gets "no responders".
 *
 * Redelivery is bounded: a wake-up that keeps failing is terminated after `maxDeliver` attempts
 * and the session gets a `session.error` and goes idle.
 */
import type { Bus, Subscription, WakeDelivery } from "@tendon/bus";
import { AppError, SessionLog } from "@tendon/contracts";
import { type Clock, type IdGen, type Logger, serializeError } from "@tendon/runtime";
import { tracer, withSpan } from "@tendon/tracing";
import { createHarnessMetrics, type HarnessMetrics } from "./metrics.js";
import type { LlmPort } from "./model/port.js";
import { type DriverConfig, SessionDriver } from "./turn/driver.js";
import { withRetry } from "./turn/log-client.js";

const turnTracer = tracer("@tendon/harness-worker");

export interface HarnessConfig extends DriverConfig {
  workerId: string;
  concurrency: number;
  /** Liveness TTL; a lease survives this long after the last heartbeat. */
  leaseTtlMs: number;
  heartbeatMs: number;
  ackWaitMs: number;
  maxDeliver: number;
  /** On SIGTERM, turns in flight get this long to finish before they are handed back. */
  shutdownGraceMs: number;
}

export interface HarnessDeps {
  bus: Bus;
  llm: LlmPort;
  clock: Clock;
  ids: IdGen;
  log: Logger;
  config: HarnessConfig;
  /** Prometheus metrics; a private registry when omitted (tests). */
  metrics?: HarnessMetrics;
}

export interface HarnessWorker {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Sessions this worker is driving right now. */
  active(): string[];
}

export function createHarnessWorker(deps: HarnessDeps): HarnessWorker {
  const { bus, log, config, clock } = deps;
  const metrics = deps.metrics ?? createHarnessMetrics();
  const active = new Map<string, Promise<unknown>>();
  /** Sessions whose lease this worker is asking for (named in its heartbeat with `active`). */
  const acquiring = new Set<string>();
  const shutdown = new AbortController();
  let consumer: ReturnType<Bus["consumeWakes"]> | undefined;
  let heartbeat: NodeJS.Timeout | undefined;
  let presence: Subscription | undefined;

  const beat = async () => {
    try {
      // The sessions it drives or is acquiring: the session-log gives back any other lease it holds.
      await bus.request(
        SessionLog.workersHeartbeat,
        { worker_id: config.workerId, ttl_ms: config.leaseTtlMs, driving: [...active.keys(), ...acquiring] },
        { timeoutMs: config.heartbeatMs * 2 },
      );
    } catch (err) {
      log.warn("liveness heartbeat failed", { err: serializeError(err) });
    }
  };

  const handle = async (d: WakeDelivery): Promise<void> => {
    const sessionId = d.message.session_id;
    const slog = log.child({ session_id: sessionId, worker_id: config.workerId });
    if (d.deliveryCount > 1) metrics.wakeRedeliveries.inc();
    if (active.has(sessionId) || acquiring.has(sessionId)) {
      // Already driving it (or taking its lease for a wake-up that came first): the loop re-reads
      // the log before it idles. A second acquire would fence this worker's own first driver.
      metrics.wakesHandled.inc({ result: "already_driving" });
      await d.ack();
      return;
    }
    // Claimed from here until the driver is in `active` (no await may separate the two).
    acquiring.add(sessionId);
    let lease: Awaited<ReturnType<typeof acquire>>;
    try {
      lease = await acquire(sessionId);
    } catch (err) {
      acquiring.delete(sessionId);
      if (err instanceof AppError && (err.code === "not_found" || err.details?.error_code === "lease_held")) {
        slog.debug("wake-up dropped: the session is gone or another live worker holds it", {
          code: err.code,
        });
        metrics.wakesHandled.inc({ result: "lease_held" });
        await d.ack();
        return;
      }
      metrics.wakesHandled.inc({ result: "retry" });
      slog.warn("could not take the session's lease; retrying later", { err: serializeError(err) });
      d.nak(500);
      return;
    }
    if (lease.session.status === "terminated") {
      acquiring.delete(sessionId);
      await release(sessionId, lease.epoch, slog);
      await d.ack();
      return;
    }
    const working = setInterval(() => d.working(), Math.max(250, Math.floor(config.ackWaitMs / 3)));
    const driver = new SessionDriver(
      { ...deps, metrics },
      lease.session,
      lease.epoch,
      config.workerId,
      shutdown.signal,
      lease.log,
    );
    metrics.wakesHandled.inc({ result: "driven" });
    metrics.turnsInFlight.inc();
    const endTurn = metrics.turnDuration.startTimer();
    let turnOutcome = "failed";
    // The turn's span (under the wake-up's): model calls, tool calls and appends are its children.
    const run = withSpan(
      turnTracer,
      "harness turn",
      { attributes: { "tendon.session_id": sessionId, "tendon.lease.epoch": lease.epoch } },
      async (span) => {
        const outcome = await driver.run();
        span.setAttribute("tendon.turn.outcome", outcome);
        return outcome;
      },
    );
    active.set(sessionId, run);
    acquiring.delete(sessionId);
    let failed = false;
    try {
      const outcome = await run;
      // Done driving before the ack's round trip: a wake-up for input that arrives meanwhile
      // starts the next turn rather than being dropped as "already driving".
      if (active.get(sessionId) === run) active.delete(sessionId);
      turnOutcome = outcome;
      if (outcome === "fenced") {
        slog.warn("fenced: another worker took over the session; stopped without writing", {
          epoch: lease.epoch,
        });
      } else slog.debug("turn finished", { outcome, epoch: lease.epoch });
      await d.ack();
    } catch (err) {
      slog.error("turn failed", { err: serializeError(err), delivery: d.deliveryCount });
      if (d.deliveryCount >= config.maxDeliver) {
        metrics.wakesHandled.inc({ result: "gave_up" });
        await giveUp(sessionId, lease.epoch, err);
        d.term("redelivery limit reached");
      } else {
        failed = true;
        d.nak(Math.min(10_000, 500 * 2 ** d.deliveryCount));
      }
    } finally {
      clearInterval(working);
      if (active.get(sessionId) === run) active.delete(sessionId);
      metrics.turnsInFlight.dec();
      endTurn({ outcome: turnOutcome });
    }
    // Released in the background, once this turn is no longer active: the redelivery (or, if
    // another worker gets it first and finds the lease still held, the sweeper) drives the session
    // once the lease is free.
    if (failed) void release(sessionId, lease.epoch, slog);
  };

  /**
   * Gives the lease back. A lease this worker keeps but does not drive is never swept (its holder
   * is alive) and every other worker's wake-up for it is dropped as "held": so when the log cannot
   * be reached (a Postgres restart), the release is retried for up to a minute, unless this worker
   * drives the session again meanwhile (a new epoch; the old one's release would change nothing).
   */
  const release = async (sessionId: string, epoch: number, slog: Logger) => {
    const policy = { attempts: 30, baseMs: 200, maxMs: 2_000 };
    try {
      await withRetry(
        clock,
        policy,
        async () => {
          if (active.has(sessionId)) return;
          await bus.request(SessionLog.harnessRelease, {
            session_id: sessionId,
            worker_id: config.workerId,
            epoch,
            rewake: false,
          });
        },
        shutdown.signal,
      );
    } catch (e) {
      slog.error("lease release failed; the session waits for this worker to stop", {
        err: serializeError(e),
      });
    }
  };

  const acquire = (sessionId: string) =>
    withRetry(clock, config.busRetry, () =>
      bus.request(SessionLog.harnessAcquire, { session_id: sessionId, worker_id: config.workerId }),
    );

  /** After the redelivery limit: tell the client in the log and idle the session. */
  const giveUp = async (sessionId: string, epoch: number, err: unknown) => {
    try {
      const { epoch: e2 } = await bus
        .request(SessionLog.harnessAcquire, { session_id: sessionId, worker_id: config.workerId })
        .catch(() => ({ epoch }));
      await bus.request(SessionLog.harnessAppend, {
        session_id: sessionId,
        worker_id: config.workerId,
        epoch: e2,
        basis_seq: Number.MAX_SAFE_INTEGER,
        release: true,
        items: [
          {
            key: `giveup:${deps.ids.next("event")}`,
            payload: {
              type: "session.error",
              error: {
                type: "unknown_error",
                message: `the agent loop failed repeatedly and stopped: ${err instanceof Error ? err.message.slice(0, 300) : "unknown error"}`,
                retry_status: { type: "exhausted" },
              },
            },
          },
          {
            key: `giveup-idle:${deps.ids.next("event")}`,
            payload: {
              type: "session.status_idle",
              stop_reason: { type: "retries_exhausted" },
              stop_details: null,
            },
          },
        ],
      });
    } catch (e) {
      log.error("could not record the failure in the session", {
        session_id: sessionId,
        err: serializeError(e),
      });
    }
  };

  return {
    active: () => [...active.keys()],
    async start() {
      await bus.ensureWakeConsumer({ ackWaitMs: config.ackWaitMs, maxDeliver: config.maxDeliver });
      metrics.watchWakeQueue(bus, log);
      // Creates the hand registry and execution-record buckets, so hands with scoped credentials can bind.
      await bus.hands();
      // Before any lease: the session-log probes this to learn within a sweep that we died.
      presence = await bus.servePresence(config.workerId);
      await beat();
      heartbeat = setInterval(() => void beat(), config.heartbeatMs);
      consumer = bus.consumeWakes({
        concurrency: config.concurrency,
        // A worker that dies leaves its open pull behind, and JetStream hands the next wake-up to
        // it (then waits ack_wait to redeliver). Short pulls (1 s is the client's minimum) are
        // gone soon after a dead worker's leases lapse, so the sweeper's next wake-up for its
        // sessions (it repeats every TENDON_SWEEP_REWAKE_MS) reaches a live worker.
        pullExpiresMs: 1_000,
        handler: handle,
        onError: (err) => log.warn("wake consumer error", { err: serializeError(err) }),
        onPoison: (err) => log.error("poison wake message terminated", { err: serializeError(err) }),
      });
      log.info("harness worker started", { worker_id: config.workerId, concurrency: config.concurrency });
    },
    async stop() {
      const stopping = consumer?.stop();
      const inFlight = [...active.values()];
      if (inFlight.length > 0) {
        log.info("waiting for turns in flight", { count: inFlight.length, grace_ms: config.shutdownGraceMs });
        const grace = new Promise((r) => setTimeout(r, config.shutdownGraceMs).unref());
        await Promise.race([Promise.allSettled(inFlight), grace]);
        shutdown.abort("shutdown");
        await Promise.allSettled([...active.values()]);
      }
      await stopping;
      if (heartbeat) clearInterval(heartbeat);
      presence?.unsubscribe();
    },
  };
}
