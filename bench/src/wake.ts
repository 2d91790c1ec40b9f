/**
 * Wake → model request: from the moment a `user.message` is accepted (the SDK's `events.send`
 * returns; the session-log has committed it and published the wake-up by then) to the moment the
 * mock model receives the harness's HTTP request (its `onRequest` arrival time, same clock). In
 * between: the wake-up's pull delivery, the lease (a Postgres update), reading the log, two
 * appends (`session.status_running`, `span.model_request_start`, each a durable commit) and the
 * request itself.
 *
 * Baseline, same run, same NATS server: a bare JetStream publish → pull consumer delivery (the
 * bus's wake queue on a prefix of its own, with the harness's pull settings and nothing behind it).
 *
 * The other half of a tool call's latency, the `execute` round trip against a bare NATS
 * request/reply, is measured by the sandbox benchmark.
 */
import { createBus } from "@tendon/bus";
import { randomIds } from "@tendon/runtime";
import { cleanupNats, resolveInfra, uniquePrefix } from "@tendon/testing";
import { type BenchStack, isTurnEnd, readSession, startBenchStack } from "./stack.js";
import { compare, type Figure, log, summarize } from "./stats.js";

/** Settles with the arrival time of the next thing that calls `arrive`. */
function arrivals() {
  let waiter: ((t: number) => void) | undefined;
  return {
    arrive(t: number) {
      const w = waiter;
      waiter = undefined;
      w?.(t);
    },
    next(timeoutMs = 30_000): Promise<number> {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`nothing arrived within ${timeoutMs} ms`)),
          timeoutMs,
        );
        waiter = (t) => {
          clearTimeout(timer);
          resolve(t);
        };
      });
    },
  };
}

/** The bare queue: the bus's wake queue on a prefix of its own, consumed like the harness does. */
async function openBareQueue(natsUrl: string) {
  const prefix = uniquePrefix("wakeq");
  const bus = await createBus({ servers: natsUrl, prefix, name: "bench-wakeq" });
  const delivered = arrivals();
  const sessionId = randomIds.next("session");
  let consumer: ReturnType<typeof bus.consumeWakes> | undefined;
  let count = 0;
  try {
    await bus.ensureWakeConsumer({ ackWaitMs: 30_000, maxDeliver: 8 });
    consumer = bus.consumeWakes({
      concurrency: 1,
      pullExpiresMs: 1_000,
      handler: async (d) => {
        delivered.arrive(performance.now());
        await d.ack();
      },
    });
  } catch (err) {
    await bus.close();
    await cleanupNats(natsUrl, prefix);
    throw err;
  }
  return {
    /** Publish → delivery to the pull consumer, ms. */
    async sample(): Promise<number> {
      const arrived = delivered.next();
      arrived.catch(() => {}); // awaited below; a failed publish must not leave it unhandled
      const t0 = performance.now();
      await bus.enqueueWake({ v: 1, session_id: sessionId, reason: "input", cause: `bench:${count++}` });
      return (await arrived) - t0;
    },
    async close() {
      await consumer?.stop();
      await bus.close();
      await cleanupNats(natsUrl, prefix);
    },
  };
}

interface WakeSamples {
  accepted: number[];
  fromSend: number[];
  sendCall: number[];
  bare: number[];
}

/** One session, one user.message per sample, idle between samples; a bare queue sample after each. */
async function measure(
  b: BenchStack,
  model: { arrived: ReturnType<typeof arrivals>; name: string },
  bare: Awaited<ReturnType<typeof openBareQueue>>,
  warmup: number,
  n: number,
): Promise<WakeSamples> {
  b.mock.script(model.name, { steps: [{ content: [{ type: "text", text: "awake" }] }], repeat_last: true });
  const agent = await b.client.beta.agents.create({ name: "wake", model: model.name });
  const env = await b.client.beta.environments.create({ name: `wake-${Date.now()}` });
  const session = await b.client.beta.sessions.create({ agent: agent.id, environment_id: env.id });
  const reader = await readSession(b.client, session.id);
  const out: WakeSamples = { accepted: [], fromSend: [], sendCall: [], bare: [] };
  try {
    for (let i = 0; i < warmup + n; i++) {
      const request = model.arrived.next();
      request.catch(() => {}); // awaited below; a failed send must not leave it unhandled
      const t0 = performance.now();
      await b.client.beta.sessions.events.send(session.id, {
        events: [{ type: "user.message", content: [{ type: "text", text: "wake up" }] }],
      });
      const accepted = performance.now();
      const at = await request;
      for (;;) {
        const e = await reader.next();
        if (e.type === "session.error") throw new Error(`session error: ${JSON.stringify(e.error)}`);
        if (isTurnEnd(e)) break;
      }
      const q = await bare.sample();
      if (i < warmup) continue;
      out.accepted.push(at - accepted);
      out.fromSend.push(at - t0);
      out.sendCall.push(accepted - t0);
      out.bare.push(q);
    }
  } finally {
    reader.close();
  }
  return out;
}

export async function benchWake(opts: { smoke: boolean }): Promise<Figure[]> {
  const infra = await resolveInfra({});
  try {
    const warmup = opts.smoke ? 1 : 5;
    const n = opts.smoke ? 3 : 100;
    const model = { name: "bench-wake", arrived: arrivals() };
    const b = await startBenchStack({
      natsUrl: infra.natsUrl,
      adminDbUrl: infra.databaseUrl,
      tag: "wake",
      mock: {
        onRequest: (r) => {
          if (r.model === model.name) model.arrived.arrive(r.receivedAt);
        },
      },
    });
    let s: WakeSamples;
    try {
      const bare = await openBareQueue(infra.natsUrl);
      try {
        log("wake → model request, and bare JetStream publish → pull delivery…");
        s = await measure(b, model, bare, warmup, n);
      } finally {
        await bare.close();
      }
    } finally {
      await b.stop();
    }
    const sendCall = summarize(s.sendCall);
    const fromSend = summarize(s.fromSend);
    const f = compare(
      "wake → model request (user.message accepted → the mock model receives the harness's request)",
      "ms",
      s.accepted,
      "bare JetStream publish → pull consumer delivery",
      s.bare,
      {
        warmup_excluded: warmup,
        send_call_ms: { p50: sendCall.p50, p95: sendCall.p95, p99: sendCall.p99 },
        from_send_start_ms: { p50: fromSend.p50, p95: fromSend.p95, p99: fromSend.p99 },
        path: "pull delivery; lease (1 commit); log read; status_running and span.model_request_start appends (2 commits, each followed by a log read); the HTTP request",
      },
    );
    log(
      `  ${f.name}: p50 ${f.value.p50} / p95 ${f.value.p95} / p99 ${f.value.p99} ms; ` +
        `bare queue p50 ${f.baseline!.value.p50} / p95 ${f.baseline!.value.p95} / p99 ${f.baseline!.value.p99} ms`,
    );
    return [f];
  } finally {
    await infra.stop();
  }
}
