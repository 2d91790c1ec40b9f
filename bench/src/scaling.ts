/**
 * `pnpm bench scaling`: how Tendon scales with harness workers and with concurrent sessions, and
 * what a session costs in memory. The mock model answers every turn after a fixed 200 ms first
 * token with a short reply of two text blocks, so the model is never the limit. Three parts, each
 * on a fresh stack, each against a baseline from the same run:
 *
 * 1. Throughput: sessions completed per second (create → SSE stream → user.message → the turn's
 *    idle) by a fixed closed-loop client load, with 1, 2 and 4 harness-worker processes (workers
 *    added and stopped on the same stack; the order rotates each round so drift on a shared
 *    machine hits all counts). Baseline: the 1-worker figure. Linear scaling would be N×.
 * 2. Concurrency sweep, one worker: N sessions turn by turn at once (N = 1, 2, 4, ...), time to
 *    first token (send → the first agent.message event_delta, as in ttft.ts) at each N. Baseline:
 *    concurrency 1. The sweep stops at the first N whose p99 is over twice the baseline p99; the
 *    largest N below that is what one worker sustains.
 * 3. Memory: resident memory of the gateway, session-log and worker processes on an empty stack
 *    (after a warm-up whose sessions are deleted), then with N idle sessions (one turn done, no
 *    stream open), then with the same N sessions active (inside a streamed model answer, each with
 *    an SSE stream open). MiB per session = (phase − empty) / N. Baseline: the empty stack.
 *
 * CPU shares per process group are recorded during the throughput phases (procstat.ts) to say
 * what limits the scaling on this machine.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { createDb, sql } from "@tendon/db";
import { resolveInfra } from "@tendon/testing";
import { type CpuUse, cpuProbe, findPids, rssMiB } from "./procstat.js";
import { type BenchStack, isTurnEnd, readSession, startBenchStack } from "./stack.js";
import { compare, type Figure, log, type Summary, summarize } from "./stats.js";
import { tendonTurn } from "./ttft.js";

const FIRST_TOKEN_MS = 200;
/** Sessions a throughput window must hold (it is extended until it does). */
const MIN_COMPLETIONS = 3;
const MODEL = "bench-scaling";
const LONG_MODEL = "bench-scaling-long";
const REPLY = [
  { type: "text" as const, text: "Scaling is measured with a short reply" },
  { type: "text" as const, text: "that arrives in two blocks." },
];

/** Long enough (~7.7 s) that every session of the memory phase is still inside it while sampled. */
const LONG_TEXT = Array.from({ length: 250 }, (_, i) => `w${i}`).join(" ");
const LONG_LATENCY = { first_token_ms: FIRST_TOKEN_MS, per_token_ms: 30 };

type Infra = Awaited<ReturnType<typeof resolveInfra>>;

const pick = (s: Summary) => ({ p50: s.p50, p95: s.p95, p99: s.p99 });
const round1 = (x: number) => Math.round(x * 10) / 10;
const round3 = (x: number) => Math.round(x * 1000) / 1000;

/** A stack with the scaling models scripted, an agent and an environment. */
async function scalingStack(infra: Infra, tag: string) {
  const b = await startBenchStack({
    natsUrl: infra.natsUrl,
    adminDbUrl: infra.databaseUrl,
    tag,
    harnessWorkers: 1,
  });
  try {
    b.mock.script(MODEL, {
      steps: [{ content: REPLY, latency: { first_token_ms: FIRST_TOKEN_MS, per_token_ms: 2 } }],
      repeat_last: true,
    });
    b.mock.script(LONG_MODEL, {
      steps: [{ content: [{ type: "text", text: LONG_TEXT }], latency: LONG_LATENCY }],
      repeat_last: true,
    });
    const agent = await b.client.beta.agents.create({ name: "scaling", model: MODEL });
    const longAgent = await b.client.beta.agents.create({ name: "scaling-long", model: LONG_MODEL });
    const env = await b.client.beta.environments.create({ name: `scaling-${tag}-${Date.now()}` });
    return { b, agentId: agent.id, longAgentId: longAgent.id, envId: env.id };
  } catch (err) {
    await b.stop();
    throw err;
  }
}
type ScalingStack = Awaited<ReturnType<typeof scalingStack>>;

/** Runs one user.message turn on an open reader until the turn's idle. */
async function turn(s: ScalingStack, sessionId: string, reader: Awaited<ReturnType<typeof readSession>>) {
  await s.b.client.beta.sessions.events.send(sessionId, {
    events: [{ type: "user.message", content: [{ type: "text", text: "go" }] }],
  });
  for (;;) {
    const e = await reader.next();
    if (e.type === "session.error") throw new Error(`session error: ${JSON.stringify(e.error)}`);
    if (isTurnEnd(e)) return;
  }
}

/** One whole session: create, open its stream, one turn, close. Returns its duration, ms. */
async function sessionCycle(s: ScalingStack, agentId = s.agentId): Promise<{ ms: number; id: string }> {
  const t0 = performance.now();
  const session = await s.b.client.beta.sessions.create({ agent: agentId, environment_id: s.envId });
  const reader = await readSession(s.b.client, session.id);
  try {
    await turn(s, session.id, reader);
  } finally {
    reader.close();
  }
  return { ms: performance.now() - t0, id: session.id };
}

async function setWorkers(b: BenchStack, n: number): Promise<void> {
  while (b.stack.harness.length < n) await b.stack.startService("harness-worker");
  while (b.stack.harness.length > n) await b.stack.harness.pop()!.stop(15_000);
}

/** Pids of the Postgres backends connected to this stack's database. */
async function backendPids(databaseUrl: string): Promise<number[]> {
  const db = createDb({ url: databaseUrl, max: 1, applicationName: "bench-scaling" });
  try {
    const r = await sql<{ pid: number }>`select pid from pg_stat_activity
      where datname = current_database() and pid <> pg_backend_pid()`.execute(db.kysely);
    return r.rows.map((x) => x.pid);
  } finally {
    await db.close();
  }
}

interface Phase {
  workers: number;
  perSecond: number;
  latencies: number[];
  cpu: CpuUse;
}

/** `clients` closed loops of whole sessions; counts those that end inside the measured window. */
async function throughputPhase(
  s: ScalingStack,
  workers: number,
  clients: number,
  warmupSeconds: number,
  seconds: number,
): Promise<Phase> {
  await setWorkers(s.b, workers);
  const natsPort = new URL(s.b.natsUrl).port || "4222";
  const probe = cpuProbe({
    harness_workers: s.b.stack.harness.map((p) => p.pid),
    "session-log": s.b.stack.sessionLogs.map((p) => p.pid),
    gateway: s.b.stack.gateways.map((p) => p.pid),
    postgres_backends: await backendPids(s.b.databaseUrl),
    "nats-server": findPids(["nats-server", natsPort]),
    "bench (clients + mock model)": [process.pid],
  });
  const start = performance.now() + warmupSeconds * 1000;
  // The window is at least `seconds` long and holds at least MIN_COMPLETIONS sessions, so a slow
  // machine gives a lower rate rather than none.
  let end = start + seconds * 1000;
  const latencies: number[] = [];
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (performance.now() < end || latencies.length < MIN_COMPLETIONS) {
        const { ms } = await sessionCycle(s);
        const t = performance.now();
        if (t < start || (t > end && latencies.length >= MIN_COMPLETIONS)) continue;
        latencies.push(ms);
        end = Math.max(end, t);
      }
    }),
  );
  const cpu = probe.stop();
  return { workers, perSecond: latencies.length / ((end - start) / 1000), latencies, cpu };
}

async function throughput(infra: Infra, smoke: boolean): Promise<Figure[]> {
  const counts = smoke ? [1, 2] : [1, 2, 4];
  const rounds = smoke ? 1 : 3;
  const clients = smoke ? 2 : 32;
  const seconds = smoke ? 1.5 : 15;
  const warmupSeconds = smoke ? 0.5 : 3;
  const s = await scalingStack(infra, "scale-tput");
  const phases: Phase[] = [];
  try {
    for (let r = 0; r < rounds; r++) {
      const order = counts.map((_, i) => counts[(i + r) % counts.length]!);
      if (r % 2 === 1) order.reverse();
      for (const n of order) {
        const p = await throughputPhase(s, n, clients, warmupSeconds, seconds);
        phases.push(p);
        log(`    round ${r + 1}, ${n} worker(s): ${round1(p.perSecond)} sessions/s`);
      }
    }
  } finally {
    await s.b.stop();
  }
  const of = (n: number) => phases.filter((p) => p.workers === n);
  const rate = (n: number) => of(n).map((p) => p.perSecond);
  const cpu = (n: number) => {
    const ps = of(n);
    const names = new Set(ps.flatMap((p) => Object.keys(p.cpu.processes)));
    const avg = (xs: number[]) => round1(xs.reduce((a, x) => a + x, 0) / Math.max(1, xs.length));
    return {
      machine_busy_percent: avg(ps.map((p) => p.cpu.machine_busy_percent ?? Number.NaN)),
      percent_of_one_core: Object.fromEntries(
        [...names].map((k) => [k, avg(ps.map((p) => p.cpu.processes[k] ?? 0))]),
      ),
    };
  };
  const base = summarize(rate(1));
  const figures: Figure[] = [];
  for (const n of counts) {
    const latency = summarize(of(n).flatMap((p) => p.latencies));
    const f = compare(
      `sessions completed per second, ${n} harness worker${n > 1 ? "s" : ""}`,
      "ops/s",
      rate(n),
      "1 harness worker, same offered load, same run",
      rate(1),
      {
        workers: n,
        rounds,
        seconds_per_round: seconds,
        offered_load: `${clients} closed-loop clients, each: create session, open SSE stream, user.message, wait for idle`,
        model: `mock, first token ${FIRST_TOKEN_MS} ms, two text blocks`,
        linear_ratio: n,
        share_of_linear: round3(summarize(rate(n)).p50 / base.p50 / n),
        session_latency_ms: { ...pick(latency), n: latency.n },
        cpu: cpu(n),
      },
    );
    figures.push(f);
    log(
      `  ${f.name}: p50 ${f.value.p50} sessions/s, ${f.ratio!.p50}× 1 worker (linear ${n}×); session p50 ${latency.p50} ms`,
    );
  }
  return figures;
}

/** TTFT samples with `concurrency` sessions turning at once on one worker. */
async function sweepLevel(s: ScalingStack, concurrency: number, samples: number): Promise<number[]> {
  const sessions = await Promise.all(
    Array.from({ length: concurrency }, async () => {
      const session = await s.b.client.beta.sessions.create({ agent: s.agentId, environment_id: s.envId });
      const reader = await readSession(s.b.client, session.id, { event_deltas: ["agent.message"] });
      return { id: session.id, reader };
    }),
  );
  try {
    // One warm-up turn each (connections, the worker's first read of the session), not counted.
    await Promise.all(sessions.map((x) => tendonTurn(s.b, x.id, x.reader)));
    const turns = Math.max(2, Math.ceil(samples / concurrency));
    const out: number[] = [];
    await Promise.all(
      sessions.map(async (x) => {
        for (let i = 0; i < turns; i++) out.push((await tendonTurn(s.b, x.id, x.reader)).firstToken);
      }),
    );
    return out;
  } finally {
    for (const x of sessions) x.reader.close();
  }
}

async function sweep(infra: Infra, smoke: boolean): Promise<Figure[]> {
  const levels = smoke ? [1, 2] : [1, 2, 4, 8, 16, 32, 48, 64, 96, 128];
  const samples = smoke ? 4 : 100;
  const s = await scalingStack(infra, "scale-sweep");
  const results: Array<{ concurrency: number; ttft: number[] }> = [];
  try {
    for (const c of levels) {
      const ttft = await sweepLevel(s, c, samples);
      results.push({ concurrency: c, ttft });
      const sum = summarize(ttft);
      log(`    ${c} concurrent session(s): TTFT p50 ${sum.p50} / p99 ${sum.p99} ms (n ${sum.n})`);
      if (c > 1 && sum.p99 > 2 * summarize(results[0]!.ttft).p99) break;
    }
  } finally {
    await s.b.stop();
  }
  const base = summarize(results[0]!.ttft);
  const under = results.filter((r) => summarize(r.ttft).p99 <= 2 * base.p99);
  const sustained = under.at(-1)!.concurrency;
  const doubledAt = results.find((r) => summarize(r.ttft).p99 > 2 * base.p99)?.concurrency ?? null;
  const figures = results.slice(1).map((r) => {
    const v = summarize(r.ttft);
    return compare(
      `time to first token with ${r.concurrency} concurrently active sessions, 1 harness worker`,
      "ms",
      r.ttft,
      "1 active session, same worker, same run",
      results[0]!.ttft,
      {
        concurrency: r.concurrency,
        model_first_token_ms: FIRST_TOKEN_MS,
        p99_ratio: round3(v.p99 / base.p99),
        p99_doubled: v.p99 > 2 * base.p99,
        sustained_before_p99_doubles: sustained,
        p99_doubled_at: doubledAt ?? `not within ${levels.at(-1)}`,
        harness_concurrency: "64 (HARNESS_CONCURRENCY default)",
        turn: "send user.message → first agent.message event_delta on the session's SSE stream; sessions turn in closed loops",
      },
    );
  });
  log(
    `  one worker sustains ${sustained} concurrently active sessions before p99 TTFT doubles ` +
      `(baseline p99 ${base.p99} ms; doubled at ${doubledAt ?? "—"})`,
  );
  return figures;
}

/** Total and per-process RSS, sampled `n` times `intervalMs` apart. */
async function sampleRss(groups: Record<string, number[]>, n: number, intervalMs: number) {
  const total: number[] = [];
  const per: Record<string, number[]> = Object.fromEntries(Object.keys(groups).map((k) => [k, []]));
  for (let i = 0; i < n; i++) {
    let sum = 0;
    for (const [k, pids] of Object.entries(groups)) {
      const v = pids.reduce((a, p) => a + (rssMiB(p) ?? 0), 0);
      per[k]!.push(v);
      sum += v;
    }
    total.push(sum);
    await sleep(intervalMs);
  }
  return { total, per };
}
type RssSamples = Awaited<ReturnType<typeof sampleRss>>;

async function memory(infra: Infra, smoke: boolean): Promise<Figure[]> {
  const n = smoke ? 2 : 50;
  const samples = smoke ? 3 : 20;
  const intervalMs = 100;
  const s = await scalingStack(infra, "scale-mem");
  let empty: RssSamples;
  let idle: RssSamples;
  let active: RssSamples;
  try {
    const groups = {
      gateway: s.b.stack.gateways.map((p) => p.pid),
      "session-log": s.b.stack.sessionLogs.map((p) => p.pid),
      harness_worker: s.b.stack.harness.map((p) => p.pid),
    };
    // The memory sessions' own model: short answers while they become idle, then a long one.
    const memModel = "bench-scaling-mem";
    const short = { content: REPLY, latency: { first_token_ms: FIRST_TOKEN_MS, per_token_ms: 2 } };
    s.b.mock.script(memModel, { steps: [short], repeat_last: true });
    const memAgent = await s.b.client.beta.agents.create({ name: "scaling-mem", model: memModel });
    // Warm-up: every path the phases take (short and long turns), then the sessions are deleted.
    const warm = await Promise.all([
      ...Array.from({ length: 3 }, () => sessionCycle(s, memAgent.id)),
      ...Array.from({ length: smoke ? 1 : 3 }, () => sessionCycle(s, s.longAgentId)),
    ]);
    for (const w of warm) await s.b.client.beta.sessions.delete(w.id);
    empty = await sampleRss(groups, samples, intervalMs);

    // N idle sessions: one turn done each, no stream open.
    const ids: string[] = [];
    for (let i = 0; i < n; i += 10) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(10, n - i) }, () => sessionCycle(s, memAgent.id)),
      );
      ids.push(...batch.map((x) => x.id));
    }
    idle = await sampleRss(groups, samples, intervalMs);

    // The same N sessions active: inside a streamed answer (~7.7 s), each with an SSE stream open.
    s.b.mock.script(memModel, {
      steps: [{ ...short, content: [{ type: "text", text: LONG_TEXT }], latency: LONG_LATENCY }],
      repeat_last: true,
    });
    const readers = await Promise.all(
      ids.map((id) => readSession(s.b.client, id, { event_deltas: ["agent.message"] })),
    );
    try {
      await Promise.all(
        ids.map((id) =>
          s.b.client.beta.sessions.events.send(id, {
            events: [{ type: "user.message", content: [{ type: "text", text: "a long one" }] }],
          }),
        ),
      );
      // Every session is inside its answer once its first text delta has arrived.
      await Promise.all(
        readers.map(async (r) => {
          for (;;) {
            const e = await r.next(60_000);
            if (e.type === "event_delta") return;
            if (isTurnEnd(e)) throw new Error("a memory-phase turn ended before it was sampled");
          }
        }),
      );
      active = await sampleRss(groups, samples, intervalMs);
      await Promise.all(
        readers.map(async (r) => {
          for (;;) if (isTurnEnd(await r.next(60_000))) return;
        }),
      );
    } finally {
      for (const r of readers) r.close();
    }
  } finally {
    await s.b.stop();
  }
  const med = (xs: number[]) => summarize(xs).p50;
  const perProcess = (x: RssSamples) =>
    Object.fromEntries(Object.entries(x.per).map(([k, v]) => [k, round1(med(v))]));
  const emptyP50 = med(empty.total);
  const perSession = (x: RssSamples) => {
    const d = summarize(x.total.map((t) => (t - emptyP50) / n));
    return { p50: round3(d.p50), p95: round3(d.p95), p99: round3(d.p99) };
  };
  const notes = (x: RssSamples, what: string) => ({
    sessions: n,
    state: what,
    mib_per_session: perSession(x),
    rss_mib_p50: perProcess(x),
    empty_rss_mib_p50: perProcess(empty),
    samples: `${samples} reads of /proc/<pid>/status VmRSS, ${intervalMs} ms apart`,
    processes: "gateway + session-log + 1 harness worker (NATS and Postgres not included)",
  });
  const figures = [
    compare(
      `RSS with ${n} idle sessions`,
      "MiB",
      idle.total,
      "empty stack (warmed up, no sessions)",
      empty.total,
      notes(idle, "idle: one turn done, no stream open"),
    ),
    compare(
      `RSS with ${n} active sessions`,
      "MiB",
      active.total,
      "empty stack (warmed up, no sessions)",
      empty.total,
      notes(active, "active: inside a streamed model answer, an SSE stream open each"),
    ),
  ];
  for (const f of figures)
    log(
      `  ${f.name}: ${f.value.p50} MiB vs ${emptyP50} MiB empty; ${JSON.stringify(f.notes?.mib_per_session)} MiB/session`,
    );
  return figures;
}

export async function benchScaling(opts: { smoke: boolean }): Promise<Figure[]> {
  const infra = await resolveInfra({});
  try {
    log("memory per idle and per active session…");
    const mem = await memory(infra, opts.smoke);
    log("time to first token against concurrently active sessions, one worker…");
    const swp = await sweep(infra, opts.smoke);
    log("sessions per second with 1, 2 and 4 workers…");
    const tput = await throughput(infra, opts.smoke);
    return [...tput, ...swp, ...mem];
  } finally {
    await infra.stop();
  }
}
