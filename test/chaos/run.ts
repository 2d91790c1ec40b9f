/**
 * One chaos run: its own nats-server and Postgres cluster (never the shared ones), every service
 * as its own process (3 harness workers, 2 session-logs, 2 gateways, a sandbox-manager, a
 * credential-proxy), the mock model and a test MCP server in this process; `sessions` concurrent
 * SDK-driven sessions while the seeded fault schedule runs; then the history checker over every
 * session's full log, and the report.
 */
import { randomBytes } from "node:crypto";
import { appendFileSync, mkdirSync, writeFileSync } from "node:fs";
import Anthropic from "@anthropic-ai/sdk";
import { createBus } from "@tendon/bus";
import { createApiKey, startStack } from "@tendon/cli";
import { startTestMcpServer } from "@tendon/mcp/testing";
import { createMockModel } from "@tendon/mock-model";
import {
  createDatabase,
  type ManagedProcess,
  startEmbeddedPostgres,
  startLocalNats,
  uniquePrefix,
} from "@tendon/testing";
import { LogReader } from "../support/log.js";
import { checkHistories, type Violation } from "./checker.js";
import {
  type Cluster,
  type FaultKind,
  faultCounts,
  type InjectedFault,
  Injector,
  planFaults,
} from "./faults.js";
import { createRng } from "./rng.js";
import { agentParams, Driver, onAnyGateway, planSession } from "./workload.js";

export interface ChaosOptions {
  seed: number;
  sessions: number;
  /** Sessions driven at once (the rest wait for a slot). */
  concurrency: number;
  /** Share of model steps that fail once (529 or a dropped stream) before answering. */
  modelFaultRate: number;
  /** Give up on sessions still running after this long. */
  deadlineMs: number;
  log: (msg: string) => void;
  /** Extra environment for the session-log (the broken-build test turns fencing off). */
  sessionLogEnv?: Record<string, string>;
  /** Faults to run instead of the seeded schedule (the broken-build test). */
  schedule?: Array<{ atMs: number; kind: FaultKind }>;
}

export interface ChaosReport {
  seed: number;
  sessions: number;
  completed: number;
  durationMs: number;
  faults: Record<string, number>;
  faultsSkipped: string[];
  modelFaultsScripted: number;
  eventsChecked: number;
  violations: Violation[];
  sseReconnects: number;
  backfills: number;
  /** Worker kill → the session's next event, for sessions that were in a model call. */
  recoveryMs: Stats & { excludedInTool: number };
  /** The same, for kills with no NATS/Postgres/session-log fault or frozen worker within 10 s. */
  recoveryIsolatedMs: Stats;
  /** Worker kill → another worker holds the session's lease. */
  takeoverMs: Stats;
  schedule: Array<{ atMs: number; kind: FaultKind }>;
}

/** The harness's production lease settings (services/harness-worker/src/config.ts). */
const LEASE_TTL_MS = 5_000;
const HEARTBEAT_MS = 1_000;

interface Stats {
  samples: number;
  p50: number | null;
  p95: number | null;
  max: number | null;
}

function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export async function runChaos(opts: ChaosOptions): Promise<ChaosReport> {
  const rng = createRng(opts.seed);
  const log = opts.log;
  const nats = await startLocalNats({ path: process.env.PATH, log });
  // Durable: the run crashes it, and every acknowledged commit must survive that.
  const pg = await startEmbeddedPostgres({ path: process.env.PATH, log, durable: true });
  const cleanups: Array<() => Promise<unknown>> = [() => pg.stop(), () => nats.stop()];
  try {
    const db = await createDatabase(pg.url);
    const prefix = uniquePrefix("chaos");
    const mock = createMockModel();
    await mock.start();
    cleanups.unshift(() => mock.stop());
    const mcpToken = randomBytes(16).toString("hex");
    const mcp = await startTestMcpServer({
      staticToken: mcpToken,
      // Unused here (the vault holds the static token), but the server always has an OAuth side.
      oauth: {
        clientId: "chaos",
        accessTtlMs: 3_600_000,
        initialAccessToken: randomBytes(16).toString("hex"),
        initialRefreshToken: randomBytes(16).toString("hex"),
      },
    });
    cleanups.unshift(() => mcp.stop());

    const stack = await startStack({
      natsUrl: nats.url,
      databaseUrl: db.url,
      prefix,
      sessionLogs: 2,
      gateways: 2,
      harnessWorkers: 3,
      env: {
        ANTHROPIC_BASE_URL: mock.url,
        ANTHROPIC_API_KEY: "mock-key",
        LOG_LEVEL: process.env.TENDON_CHAOS_LOG_LEVEL ?? "warn",
        HARNESS_MODEL_BACKOFF_BASE_MS: "50",
        HARNESS_MODEL_BACKOFF_MAX_MS: "500",
        HARNESS_MODEL_MAX_RETRIES: "6",
        HARNESS_LEASE_TTL_MS: String(LEASE_TTL_MS),
        HARNESS_HEARTBEAT_MS: String(HEARTBEAT_MS),
        HARNESS_ACK_WAIT_MS: "5000",
        HARNESS_MAX_DELIVER: "50",
        TENDON_SSE_PING_MS: "2000",
        // Finished sessions' sandboxes go after 30 s idle (each is a process): 500 sessions would
        // otherwise keep 500 of them for the default 10 minutes.
        TENDON_SANDBOX_IDLE_MS: "30000",
      },
      ...(opts.sessionLogEnv ? { serviceEnv: { "session-log": opts.sessionLogEnv } } : {}),
      // TENDON_CHAOS_SERVICE_LOG=<file>: every service's log lines, for a post-mortem.
      ...(process.env.TENDON_CHAOS_SERVICE_LOG
        ? {
            onLine: (svc: string, line: string) =>
              appendFileSync(process.env.TENDON_CHAOS_SERVICE_LOG!, `${Date.now()} [${svc}] ${line}\n`),
          }
        : {}),
    });
    cleanups.unshift(() => stack.stop());
    const gatewayPorts = new Map<ManagedProcess, string>();
    for (const [i, p] of stack.gateways.entries()) gatewayPorts.set(p, new URL(stack.urls[i]!).port);

    const { key } = await createApiKey({ natsUrl: nats.url, prefix, name: "chaos" });
    const clientsByUrl = new Map<string, Anthropic>();
    const clients = () =>
      [...new Set(gatewayPorts.values())].map((port) => {
        const url = `http://127.0.0.1:${port}`;
        let c = clientsByUrl.get(url);
        if (!c) {
          c = new Anthropic({ baseURL: url, apiKey: key, maxRetries: 0, timeout: 20_000 });
          clientsByUrl.set(url, c);
        }
        return c;
      });
    const bus = await createBus({ servers: nats.url, prefix, name: "chaos-admin" });
    cleanups.unshift(() => bus.close());
    const logs = new LogReader(db.url);
    cleanups.unshift(() => logs.close());

    // Setup through the API: one environment, one vault for the MCP server, one agent per session.
    const setup = clients()[0]!;
    const env = await setup.beta.environments.create({ name: `chaos-${prefix}` });
    const vault = await setup.beta.vaults.create({ display_name: "chaos" });
    await setup.beta.vaults.credentials.create(vault.id, {
      auth: { type: "static_bearer", mcp_server_url: mcp.url, token: mcpToken },
    });
    const runTag = prefix.slice(-6);
    const plans = Array.from({ length: opts.sessions }, (_, i) =>
      planSession(i, runTag, rng, opts.modelFaultRate),
    );
    const modelFaultsScripted = plans.reduce(
      (n, p) => n + (p.script.steps as Array<{ failures?: unknown[] }>).filter((s) => s.failures).length,
      0,
    );
    const counts = faultCounts(opts.sessions);
    // Spread over about the first 70 % of the run (50 sessions at a time take 50-70 s here);
    // the mean gap is 1.5 x `gap`.
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    const expectedMs = Math.ceil(opts.sessions / opts.concurrency) * 50_000;
    const gap = Math.max(400, Math.round((expectedMs * 0.5) / total));
    const schedule = opts.schedule ?? planFaults(rng, counts, 1_500, gap);
    log(`chaos seed ${opts.seed}: ${opts.sessions} sessions, schedule ${JSON.stringify(schedule)}`);

    const drivers: Driver[] = [];
    const cluster: Cluster = {
      harness: stack.harness,
      sessionLogs: stack.sessionLogs,
      gatewayPorts,
      startService: async (name, extra) => {
        const p = await stack.startService(name, extra);
        if (name === "gateway") gatewayPorts.set(p, extra?.PORT ?? "");
        return p;
      },
      restartNats: () => nats.restart("SIGKILL"),
      restartPostgres: () => pg.restart("SIGQUIT"),
      bus,
      logs,
    };
    const injector = new Injector(cluster, () => drivers, rng, LEASE_TTL_MS, log);
    // On the way out, replacements still booting join the stack first, so stack.stop() ends them.
    cleanups.unshift(() => Promise.allSettled(injector.restarts));

    const started = Date.now();
    const deadline = started + opts.deadlineMs;
    const driverDeps = { clients, log, quietMs: 3_000 };
    let next = 0;
    const worker = async () => {
      for (;;) {
        const i = next++;
        if (i >= plans.length) return;
        const plan = plans[i]!;
        mock.script(plan.model, plan.script as never);
        // Created while faults run too (a gateway or session-log may be down): retried on any
        // gateway. A retry after a lost reply leaves an unused agent or session behind, unread.
        const agent = await onAnyGateway(driverDeps, i, (c) =>
          c.beta.agents.create(agentParams(plan.model, mcp.url)),
        );
        const session = await onAnyGateway(driverDeps, i, (c) =>
          c.beta.sessions.create({ agent: agent.id, environment_id: env.id, vault_ids: [vault.id] }),
        );
        const d = new Driver(session.id, plan, driverDeps, i);
        drivers.push(d);
        await d.run(deadline);
      }
    };
    const sessionsDone = Promise.all(
      Array.from({ length: Math.min(opts.concurrency, plans.length) }, worker),
    );
    const faultsDone = (async () => {
      for (const f of schedule) {
        const wait = started + f.atMs - Date.now();
        if (wait > 0) await Promise.race([new Promise((r) => setTimeout(r, wait)), sessionsDone]);
        if (drivers.length > 0 && drivers.every((d) => d.done) && drivers.length === plans.length) break;
        const t0 = Date.now();
        log(`fault ${f.kind} at +${t0 - started} ms`);
        await injector.inject(f.kind).catch((err: unknown) => log(`fault ${f.kind} failed: ${String(err)}`));
        log(`fault ${f.kind} done in ${Date.now() - t0} ms`);
      }
    })();
    // Bounded: past the deadline (and a minute for the drivers to notice), the checker runs on
    // what is there; a session that never finished is a violation, not a hang.
    let overrun: NodeJS.Timeout | undefined;
    const late = new Promise<"late">((r) => {
      overrun = setTimeout(() => r("late"), Math.max(0, deadline - Date.now()) + 60_000);
    });
    if ((await Promise.race([Promise.all([sessionsDone, faultsDone]), late])) === "late") {
      const stuck = drivers.filter((d) => !d.done);
      log(
        `${stuck.length} driver(s) still running a minute past the deadline: ${stuck
          .map((d) => `${d.sessionId} (last ${d.lastType}, ${d.sseReconnects} reconnects)`)
          .slice(0, 10)
          .join("; ")}`,
      );
    }
    clearTimeout(overrun);
    await Promise.allSettled([...injector.restarts, ...injector.watches]);
    const durationMs = Date.now() - started;
    const reasons = new Map<string, number>();
    for (const d of drivers)
      for (const [k, n] of d.reconnectReasons) reasons.set(k, (reasons.get(k) ?? 0) + n);
    const rel = (k: string) => k.replace(/@(\d+)$/, (_, t: string) => `@+${Number(t) * 1000 - started}ms`);
    log(
      `SSE reconnect reasons: ${JSON.stringify(
        [...reasons]
          .sort((a, b) => b[1] - a[1])
          .slice(0, 12)
          .map(([k, n]) => [rel(k), n]),
      )}`,
    );

    // The checker over every session's whole log.
    const histories = [];
    for (const d of drivers) histories.push(d.history(await logs.events(d.sessionId)));
    const { violations, eventsChecked } = checkHistories(histories);

    // Recovery: from each worker kill to the next event of each session it held.
    // Takeover: another worker holds the lease (the platform's part). Next event: the session
    // moved on; measured only where it was in a model call, since a session inside a tool call
    // next speaks when its tool finishes (the new worker attaches to the running call).
    const takeover: number[] = [];
    const samples: Array<{ kind: string; session: string; ms: number; phase: string; isolated: boolean }> =
      [];
    // A kill is "isolated" when no infrastructure fault (NATS or Postgres restart, a session-log
    // killed, a worker frozen) lands within 10 s after it: its recovery is the lease's alone.
    const infra = injector.injected.filter((x) =>
      ["restart_nats", "restart_postgres", "kill_session_log", "stop_harness"].includes(x.kind),
    );
    const isolated = (at: number) => !infra.some((x) => x.at >= at - 1_000 && x.at <= at + 10_000);
    let inTool = 0;
    const slowTakeovers: Array<[string, number]> = [];
    for (const f of injector.injected.filter((x: InjectedFault) => x.takeoverMs)) {
      for (const [sid, ms] of f.takeoverMs!) {
        takeover.push(ms);
        slowTakeovers.push([sid, ms]);
      }
      const mine = [...f.takeoverMs!.values()].sort((a, b) => a - b);
      log(
        `takeovers after ${f.kind} at +${f.at - started} ms: ${mine.length}/${f.orphans?.length ?? 0} [${mine.join(", ")}]`,
      );
      for (const sid of f.orphans ?? []) {
        const phase = await logs.phaseAt(sid, new Date(f.at));
        if (phase === "tool") {
          inTool++;
          continue;
        }
        const next = await logs.firstEventAfter(sid, new Date(f.at));
        if (next)
          samples.push({
            kind: f.kind,
            session: sid,
            ms: next.getTime() - f.at,
            phase,
            isolated: isolated(f.at),
          });
      }
    }
    samples.sort((a, b) => a.ms - b.ms);
    takeover.sort((a, b) => a - b);
    const recovery = samples.map((x) => x.ms);
    const recoveryIsolated = samples.filter((x) => x.isolated).map((x) => x.ms);
    for (const x of samples.slice(-3)) {
      const f = injector.injected.find((i) => i.orphans?.includes(x.session))!;
      const tl = await logs.timeline(x.session, new Date(f.at - 3_000), new Date(f.at + x.ms));
      const steps = tl.map((e) => `${e.type}@${e.at.getTime() - f.at}`).join(" ");
      log(`slow recovery: ${JSON.stringify(x)}; events from kill-3s: ${steps}`);
    }
    for (const x of slowTakeovers.sort((a, b) => b[1] - a[1]).slice(0, 3))
      log(`slowest takeover: ${x[0]} ${x[1]} ms`);
    const faults: Record<string, number> = {};
    for (const f of injector.injected) faults[f.kind] = (faults[f.kind] ?? 0) + 1;
    return {
      seed: opts.seed,
      sessions: opts.sessions,
      completed: drivers.filter((d) => d.done).length,
      durationMs,
      faults,
      faultsSkipped: injector.skipped,
      modelFaultsScripted,
      eventsChecked,
      violations,
      sseReconnects: drivers.reduce((n, d) => n + d.sseReconnects, 0),
      backfills: drivers.reduce((n, d) => n + d.backfills, 0),
      recoveryMs: {
        samples: recovery.length,
        p50: percentile(recovery, 50),
        p95: percentile(recovery, 95),
        max: recovery.at(-1) ?? null,
        excludedInTool: inTool,
      },
      recoveryIsolatedMs: {
        samples: recoveryIsolated.length,
        p50: percentile(recoveryIsolated, 50),
        p95: percentile(recoveryIsolated, 95),
        max: recoveryIsolated.at(-1) ?? null,
      },
      takeoverMs: {
        samples: takeover.length,
        p50: percentile(takeover, 50),
        p95: percentile(takeover, 95),
        max: takeover.at(-1) ?? null,
      },
      schedule,
    };
  } finally {
    for (const c of cleanups) await c().catch(() => {});
  }
}

export function writeReport(name: string, report: ChaosReport): string {
  mkdirSync("bench/results", { recursive: true });
  const path = `bench/results/${name}.json`;
  writeFileSync(
    path,
    `${JSON.stringify({ ...report, violations: report.violations.slice(0, 50) }, null, 2)}\n`,
  );
  return path;
}
