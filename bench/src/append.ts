/**
 * Session-log append throughput with many concurrent sessions, durable commits, against plain
 * Postgres inserts on the same server in the same run:
 *
 * - Tendon: `harness.append` over NATS (the harness's hot path for agent events: fenced by lease
 *   epoch, idempotent by key, `seq` under the session's row lock, projection updated, then published
 *   live), one `agent.message` of PAYLOAD_BYTES per append, one append in flight per session, as a
 *   harness drives a session. The benchmark holds the sessions' leases itself, as a harness worker
 *   would (heartbeat, presence), so nothing else writes.
 * - Baselines, same concurrency, same payload, same Postgres (a scratch table shaped like the
 *   events table, in this benchmark's own database, through the same kysely/pg stack and the
 *   session-log's default pool size): `BEGIN; INSERT one row; COMMIT`, and an autocommit INSERT.
 *
 * Phases alternate (Tendon, transaction, autocommit; the order rotates each round) so drift on a
 * shared machine hits all of them. While each runs we record where the CPU went (machine, the
 * session-log, its Postgres backends, the NATS server, this process) and the WAL bytes written per
 * operation, to say what limits the throughput.
 */
import { createBus } from "@tendon/bus";
import { type SessionId, SessionLog } from "@tendon/contracts";
import { createDb, type Db, sql } from "@tendon/db";
import { randomIds } from "@tendon/runtime";
import { resolveInfra } from "@tendon/testing";
import { type CpuUse, cpuProbe, findPids } from "./procstat.js";
import { type BenchStack, startBenchStack } from "./stack.js";
import { compare, type Figure, log, type Summary, summarize } from "./stats.js";

const PAYLOAD_BYTES = 1024;
const TEXT = "x".repeat(PAYLOAD_BYTES);
/** The session-log's TENDON_DB_POOL_MAX default; the baseline pool gets the same. */
const POOL_MAX = 10;
const TARGET_RATIO = 2;

type Kind = "tendon" | "txn" | "autocommit";
const KINDS: Kind[] = ["tendon", "txn", "autocommit"];

interface PhaseResult {
  ops: number;
  seconds: number;
  latencies: number[];
  cpu: CpuUse;
  walBytes: number;
}

/** `concurrency` closed loops, each starting operations until `seconds` have passed. */
async function closedLoop(
  concurrency: number,
  seconds: number,
  op: (worker: number) => Promise<void>,
): Promise<{ ops: number; seconds: number; latencies: number[] }> {
  const latencies: number[] = [];
  const t0 = performance.now();
  const deadline = t0 + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, w) => {
      while (performance.now() < deadline) {
        const s = performance.now();
        await op(w);
        latencies.push(performance.now() - s);
      }
    }),
  );
  return { ops: latencies.length, seconds: (performance.now() - t0) / 1000, latencies };
}

/** The Tendon side: sessions leased by this process, appended to through the session-log. */
async function openTendon(b: BenchStack, concurrency: number) {
  const bus = await createBus({ servers: b.natsUrl, prefix: b.prefix, name: "bench-append" });
  const workerId = `bench-append-${randomIds.next("event").slice(-10)}`;
  let heartbeat: NodeJS.Timeout | undefined;
  const presence = await bus.servePresence(workerId);
  try {
    const beat = () =>
      bus.request(SessionLog.workersHeartbeat, { worker_id: workerId, ttl_ms: 1_200 }, { timeoutMs: 600 });
    await beat();
    heartbeat = setInterval(() => void beat().catch(() => {}), 300);
    const agent = await b.client.beta.agents.create({ name: "append", model: "bench-append" });
    const env = await b.client.beta.environments.create({ name: `append-${Date.now()}` });
    const sessions: Array<{ id: SessionId; epoch: number; basis: number; n: number }> = [];
    for (let i = 0; i < concurrency; i++) {
      const s = await b.client.beta.sessions.create({ agent: agent.id, environment_id: env.id });
      const lease = await bus.request(SessionLog.harnessAcquire, {
        session_id: s.id as SessionId,
        worker_id: workerId,
      });
      sessions.push({ id: s.id as SessionId, epoch: lease.epoch, basis: lease.session.last_seq, n: 0 });
    }
    const append = async (w: number, payload: "running" | "message") => {
      const s = sessions[w]!;
      const r = await bus.request(SessionLog.harnessAppend, {
        session_id: s.id,
        worker_id: workerId,
        epoch: s.epoch,
        basis_seq: s.basis,
        items: [
          payload === "running"
            ? { key: `run:${s.basis}`, payload: { type: "session.status_running" } }
            : {
                key: `bench:${s.n++}`,
                payload: { type: "agent.message", content: [{ type: "text", text: TEXT }] },
              },
        ],
      });
      s.basis = r.last_seq;
    };
    for (let w = 0; w < concurrency; w++) await append(w, "running");
    return {
      op: (w: number) => append(w, "message"),
      async close() {
        clearInterval(heartbeat);
        presence.unsubscribe();
        await bus.close();
      },
    };
  } catch (err) {
    clearInterval(heartbeat);
    presence.unsubscribe();
    await bus.close();
    throw err;
  }
}

/** The baseline side: a scratch table shaped like the events table, in the benchmark's database. */
async function openBaseline(databaseUrl: string) {
  const db: Db<Record<string, never>> = createDb({
    url: databaseUrl,
    schema: "bench_baseline",
    max: POOL_MAX,
    applicationName: "bench-baseline",
  });
  await sql`create schema if not exists bench_baseline`.execute(db.kysely);
  await sql`create table bench_baseline.events (
    session_id text not null,
    seq bigint not null,
    id text not null unique,
    type text not null,
    body jsonb not null,
    internal jsonb,
    idem_key text not null,
    processed_at timestamptz not null,
    primary key (session_id, seq),
    unique (session_id, idem_key)
  )`.execute(db.kysely);
  const seqs = new Map<number, number>();
  const row = (w: number) => {
    const seq = (seqs.get(w) ?? 0) + 1;
    seqs.set(w, seq);
    const id = randomIds.next("event");
    const processedAt = new Date().toISOString();
    const body = JSON.stringify({
      type: "agent.message",
      id,
      content: [{ type: "text", text: TEXT }],
      processed_at: processedAt,
    });
    return sql`insert into bench_baseline.events (session_id, seq, id, type, body, idem_key, processed_at)
      values (${`bench_${w}`}, ${seq}, ${id}, 'agent.message', ${body}, ${`bench:${seq}`}, ${processedAt})`;
  };
  return {
    db,
    txn: (w: number) => db.kysely.transaction().execute(async (trx) => void (await row(w).execute(trx))),
    autocommit: async (w: number) => void (await row(w).execute(db.kysely)),
    /** WAL position, bytes (cluster-wide). */
    async walLsn(): Promise<string> {
      const r = await sql<{ lsn: string }>`select pg_current_wal_lsn()::text as lsn`.execute(db.kysely);
      return r.rows[0]!.lsn;
    },
    async walBytesSince(lsn: string): Promise<number> {
      const r = await sql<{
        bytes: string;
      }>`select pg_wal_lsn_diff(pg_current_wal_lsn(), ${lsn}::pg_lsn)::text as bytes`.execute(db.kysely);
      return Number(r.rows[0]!.bytes);
    },
    /** Pids of the Postgres backends serving a client (by application_name) on this database. */
    async backends(applicationName: string): Promise<number[]> {
      const r = await sql<{ pid: number }>`select pid from pg_stat_activity
        where datname = current_database() and application_name = ${applicationName}`.execute(db.kysely);
      return r.rows.map((x) => x.pid);
    },
    async settings(): Promise<Record<string, string>> {
      const out: Record<string, string> = {};
      for (const name of [
        "fsync",
        "synchronous_commit",
        "wal_sync_method",
        "commit_delay",
        "server_version",
      ]) {
        const r = await sql<{ v: string }>`select current_setting(${name}) as v`.execute(db.kysely);
        out[name] = r.rows[0]!.v;
      }
      return out;
    },
  };
}

const perSecond = (r: { ops: number; seconds: number }) => Math.round((r.ops / r.seconds) * 10) / 10;

async function level(
  b: BenchStack,
  base: Awaited<ReturnType<typeof openBaseline>>,
  concurrency: number,
  rounds: number,
  seconds: number,
  warmupSeconds: number,
): Promise<Record<Kind, PhaseResult[]>> {
  const tendon = await openTendon(b, concurrency);
  try {
    const ops: Record<Kind, (w: number) => Promise<void>> = {
      tendon: tendon.op,
      txn: base.txn,
      autocommit: base.autocommit,
    };
    for (const k of KINDS) await closedLoop(concurrency, warmupSeconds, ops[k]);
    // The pools are warm now: these are the backends each side uses.
    const sessionLogPid = b.stack.sessionLogs[0]!.pid;
    const natsPort = new URL(b.natsUrl).port || "4222";
    const nats = findPids(["nats-server", natsPort]);
    const backends: Record<Kind, number[]> = {
      tendon: await base.backends("tendon-session-log"),
      txn: await base.backends("bench-baseline"),
      autocommit: await base.backends("bench-baseline"),
    };
    const out: Record<Kind, PhaseResult[]> = { tendon: [], txn: [], autocommit: [] };
    for (let r = 0; r < rounds; r++) {
      const order = KINDS.map((_, i) => KINDS[(i + r) % KINDS.length]!);
      for (const k of order) {
        const lsn = await base.walLsn();
        const probe = cpuProbe({
          "session-log": k === "tendon" ? [sessionLogPid] : [],
          postgres_backends: backends[k],
          "nats-server": nats,
          bench: [process.pid],
        });
        const res = await closedLoop(concurrency, seconds, ops[k]);
        const cpu = probe.stop();
        out[k].push({ ...res, cpu, walBytes: await base.walBytesSince(lsn) });
        log(`    c=${concurrency} round ${r + 1} ${k}: ${perSecond(res)} ops/s`);
      }
    }
    return out;
  } finally {
    await tendon.close();
  }
}

const pick = (s: Summary) => ({ p50: s.p50, p95: s.p95, p99: s.p99 });

function resources(phases: PhaseResult[]) {
  const ops = phases.reduce((a, p) => a + p.ops, 0);
  const wal = phases.reduce((a, p) => a + p.walBytes, 0);
  const avg = (f: (c: CpuUse) => number | undefined) => {
    const xs = phases.map((p) => f(p.cpu)).filter((x): x is number => x !== undefined);
    return xs.length ? Math.round((xs.reduce((a, x) => a + x, 0) / xs.length) * 10) / 10 : undefined;
  };
  const names = new Set(phases.flatMap((p) => Object.keys(p.cpu.processes)));
  return {
    ops,
    wal_bytes_per_op: Math.round(wal / Math.max(1, ops)),
    machine_cpu_busy_percent: avg((c) => c.machine_busy_percent),
    cpu_percent_of_one_core: Object.fromEntries([...names].map((n) => [n, avg((c) => c.processes[n])])),
  };
}

export async function benchAppend(opts: { smoke: boolean }): Promise<Figure[]> {
  const infra = await resolveInfra({});
  try {
    const b = await startBenchStack({
      natsUrl: infra.natsUrl,
      adminDbUrl: infra.databaseUrl,
      tag: "append",
      harnessWorkers: 0,
    });
    const base = await openBaseline(b.databaseUrl).catch(async (err: unknown) => {
      await b.stop();
      throw err;
    });
    try {
      const settings = await base.settings();
      log(`postgres: ${JSON.stringify(settings)}`);
      const levels = opts.smoke ? [4] : [1, 16, 64];
      const rounds = opts.smoke ? 1 : 3;
      const seconds = opts.smoke ? 0.5 : 2;
      const warmupSeconds = opts.smoke ? 0.3 : 1;
      const figures: Figure[] = [];
      for (const c of levels) {
        log(`append throughput, ${c} concurrent sessions…`);
        const r = await level(b, base, c, rounds, seconds, warmupSeconds);
        const rate = (k: Kind) => r[k].map(perSecond);
        const lat = (k: Kind) => summarize(r[k].flatMap((p) => p.latencies));
        const common = {
          concurrency: c,
          payload_bytes: PAYLOAD_BYTES,
          events_per_append: 1,
          rounds,
          seconds_per_round: seconds,
          pool_max: { session_log: POOL_MAX, baseline: POOL_MAX },
          postgres: settings,
          statements_per_append: {
            tendon:
              "BEGIN; SELECT session FOR UPDATE; SELECT idempotency keys; INSERT event; UPDATE projection; COMMIT (from the code)",
            txn: "BEGIN; INSERT; COMMIT",
            autocommit: "INSERT",
          },
        };
        const thr = compare(
          `append throughput, ${c} concurrent sessions (harness.append over NATS, durable commit)`,
          "ops/s",
          rate("tendon"),
          "single-row INSERT; COMMIT transactions, same concurrency and payload",
          rate("txn"),
          {
            ...common,
            latency_ms: { tendon: pick(lat("tendon")), baseline: pick(lat("txn")) },
            resources: { tendon: resources(r.tendon), baseline: resources(r.txn) },
          },
        );
        thr.notes = {
          ...thr.notes,
          target_ratio: TARGET_RATIO,
          target_met: (thr.ratio?.p50 ?? 0) >= TARGET_RATIO,
        };
        const auto = compare(
          `append throughput, ${c} concurrent sessions (harness.append over NATS, durable commit)`,
          "ops/s",
          rate("tendon"),
          "autocommit single-row INSERT (one round trip), same concurrency and payload",
          rate("autocommit"),
          {
            concurrency: c,
            latency_ms: { tendon: pick(lat("tendon")), baseline: pick(lat("autocommit")) },
            resources: { baseline: resources(r.autocommit) },
          },
        );
        const latency = compare(
          `append latency, ${c} concurrent sessions (harness.append round trip)`,
          "ms",
          r.tendon.flatMap((p) => p.latencies),
          "single-row INSERT; COMMIT transaction",
          r.txn.flatMap((p) => p.latencies),
          { concurrency: c },
        );
        log(
          `  c=${c}: tendon p50 ${thr.value.p50} appends/s vs INSERT;COMMIT ${thr.baseline!.value.p50}/s ` +
            `(ratio ${thr.ratio?.p50}), autocommit ${auto.baseline!.value.p50}/s; ` +
            `append latency p50 ${latency.value.p50} / p99 ${latency.value.p99} ms`,
        );
        figures.push(thr, auto, latency);
      }
      return figures;
    } finally {
      await base.db.close();
      await b.stop();
    }
  } finally {
    await infra.stop();
  }
}
