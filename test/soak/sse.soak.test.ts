/**
 * SSE soak: many concurrent `GET /v1/sessions/{id}/events/stream` streams held open while some of
 * their sessions take turns in a loop, then all closed; the gateway's memory, file descriptors and
 * NATS subscriptions must come back to where they were.
 *
 * What it checks:
 * - every stream connects, none errors or is closed by the server while it is held;
 * - a stream on a busy session sees exactly the events its session logged after the stream opened,
 *   each once, in order (ids interned per session; duplicates counted); a stream on an idle
 *   session sees pings and nothing else;
 * - after every stream is closed: the gateway's open fds fall back to baseline + FD_MARGIN, its
 *   RSS to baseline + max(30%, 50 MiB) (polled: V8 gives memory back lazily), and no one is
 *   subscribed to any session's live subject any more (a NATS request to it gets "no responders";
 *   checked against a positive control while the streams are open);
 * - new streams are still served afterwards.
 * Figures (RSS and fds at baseline, with all streams open, peak and after; streams; events seen;
 * durations) go to `bench/results/soak.json`. Nothing asserts on time.
 *
 * Knobs (environment):
 *   TENDON_SOAK_STREAMS        concurrent streams (default 200; full size 1000)
 *   TENDON_SOAK_SECONDS        how long traffic runs while the streams are held (default 30; full 300)
 *   TENDON_SOAK_BUSY_SESSIONS  sessions taking turns in a loop (default 10); half the streams are
 *                              spread over them, the other half over the idle sessions
 *   TENDON_SOAK_IDLE_SESSIONS  sessions with no traffic (default 10)
 *   TENDON_SOAK_PING_MS        the gateway's TENDON_SSE_PING_MS (default 2000, as in TEST_ENV)
 *   TENDON_SOAK_RESULTS        where to write the figures (default bench/results/soak.json)
 *
 * CI size:   pnpm vitest run --project resilience test/soak
 * Full size: TENDON_SOAK_STREAMS=1000 TENDON_SOAK_SECONDS=300 vitest run --project resilience test/soak
 */
import { mkdirSync, writeFileSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import { dirname, join } from "node:path";
import { REPO_ROOT } from "@tendon/cli";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestStack, type TestStack } from "../support/stack.js";
import {
  listEventIds,
  mapLimit,
  type ProcStats,
  procStats,
  requestJson,
  SessionLedger,
  SoakStream,
  type StreamTarget,
} from "./sse-client.js";

function intEnv(name: string, dflt: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer >= ${min}, got "${raw}"`);
  return n;
}

const STREAMS = intEnv("TENDON_SOAK_STREAMS", 200, 2);
const SECONDS = intEnv("TENDON_SOAK_SECONDS", 30, 1);
const BUSY = intEnv("TENDON_SOAK_BUSY_SESSIONS", 10, 1);
const IDLE = intEnv("TENDON_SOAK_IDLE_SESSIONS", 10, 1);
const PING_MS = intEnv("TENDON_SOAK_PING_MS", 2_000, 100);
const RESULTS = process.env.TENDON_SOAK_RESULTS || join(REPO_ROOT, "bench", "results", "soak.json");

/** Extra fds tolerated after the streams close (a straggling keep-alive socket, a timer fd). */
const FD_MARGIN = 5;
const MiB = 1024 * 1024;
/** Streams opened at once; each costs the gateway a NATS subscription and a log request. */
const OPEN_CONCURRENCY = 100;
/** A turn that takes longer than this on a busy session fails the run (a lost event hangs it). */
const TURN_TIMEOUT_MS = 120_000;
/** How long memory and fds may take to come back after the streams close. */
const SETTLE_TIMEOUT_MS = 180_000;

const rssBound = (baseline: number) => baseline + Math.max(0.3 * baseline, 50 * MiB);
const mib = (b: number) => Math.round((b / MiB) * 10) / 10;

let t: TestStack;
let agentId: string;
let busyIds: string[] = [];
let idleIds: string[] = [];

beforeAll(async () => {
  t = await startTestStack({ env: { TENDON_SSE_PING_MS: String(PING_MS) } });
  const model = `mock-soak-${Math.random().toString(36).slice(2, 8)}`;
  t.mock.script(model, { steps: [{ content: [{ type: "text", text: "ok" }] }], repeat_last: true });
  agentId = (await t.client.beta.agents.create({ name: "soak", model })).id;
  const env = await t.client.beta.environments.create({
    name: `soak-${Math.random().toString(36).slice(2)}`,
  });
  const create = () =>
    t.client.beta.sessions.create({ agent: agentId, environment_id: env.id }).then((s) => s.id);
  busyIds = await mapLimit(Array.from({ length: BUSY }), 10, create);
  idleIds = await mapLimit(Array.from({ length: IDLE }), 10, create);
});

afterAll(async () => {
  await t?.stop();
});

interface GatewayFigures {
  pid: number;
  baseline?: ProcStats;
  opened?: ProcStats;
  peak?: ProcStats;
  after?: ProcStats;
}

function snapshot(pids: number[]): ProcStats[] {
  return pids.map((pid) => procStats(pid));
}

const sum = (xs: ProcStats[]): ProcStats => ({
  rssBytes: xs.reduce((a, x) => a + x.rssBytes, 0),
  fds: xs.reduce((a, x) => a + x.fds, 0),
});

/** Sends one user message to a session through the raw client. */
async function sendMessage(target: StreamTarget, sessionId: string, text: string): Promise<void> {
  const r = await requestJson(target, "POST", `/v1/sessions/${sessionId}/events`, {
    events: [{ type: "user.message", content: [{ type: "text", text }] }],
  });
  if (r.status !== 200) throw new Error(`send to ${sessionId}: HTTP ${r.status} ${JSON.stringify(r.body)}`);
}

/** One turn: send, then wait until every stream of the session has seen its `end_turn`. */
async function turn(
  target: StreamTarget,
  sessionId: string,
  streams: SoakStream[],
  n: number,
  text: string,
): Promise<void> {
  const base = streams.map((s) => s.endTurns);
  await sendMessage(target, sessionId, text);
  await Promise.all(
    streams.map((s, i) => s.waitUntil(() => s.endTurns >= base[i]! + 1, `end_turn #${n}`, TURN_TIMEOUT_MS)),
  );
}

/** Whether anyone is subscribed to the session's live subject (a request gets no "no responders"). */
async function liveSubscribed(sessionId: string): Promise<boolean> {
  const bus = await t.bus();
  try {
    await bus.nc.request(bus.subjects.live(sessionId), new Uint8Array(0), { timeout: 1_000 });
    return true;
  } catch (e) {
    const err = e as Error & { isNoResponders?: () => boolean; cause?: { name?: string } };
    if (err.isNoResponders?.() || err.cause?.name === "NoResponders") return false;
    // Timed out: a subscriber got it and (being a stream) did not answer.
    if (/timeout/i.test(`${err.name} ${err.message} ${err.cause?.name ?? ""}`)) return true;
    throw e;
  }
}

describe("SSE soak", () => {
  it(
    `holds ${STREAMS} streams for ${SECONDS}s of traffic and gives back fds, memory and subscriptions`,
    async () => {
      const startedAt = new Date();
      const pids = t.stack.gateways.map((g) => g.pid);
      const gw: GatewayFigures[] = pids.map((pid) => ({ pid }));
      const results: Record<string, unknown> = {
        benchmark: "sse-soak",
        started_at: startedAt.toISOString(),
        size: STREAMS >= 1000 ? "full" : "ci",
        config: {
          streams: STREAMS,
          seconds: SECONDS,
          busy_sessions: BUSY,
          idle_sessions: IDLE,
          ping_ms: PING_MS,
          gateways: pids.length,
          fd_margin: FD_MARGIN,
        },
        machine: {
          cpus: os.cpus().length,
          cpu_model: os.cpus()[0]?.model ?? "unknown",
          memory_gib: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
          node: process.version,
          platform: `${process.platform}-${process.arch}`,
        },
        gateways: gw,
      };
      const ledgers = new Map<string, SessionLedger>();
      for (const id of [...busyIds, ...idleIds]) ledgers.set(id, new SessionLedger(id));
      const streamAgent = new http.Agent({ keepAlive: false, maxSockets: Number.POSITIVE_INFINITY });
      const jsonAgent = new http.Agent({ keepAlive: true, maxSockets: BUSY + 4 });
      const streamTarget: StreamTarget = { baseUrl: t.stack.url, apiKey: t.apiKey, agent: streamAgent };
      const jsonTarget: StreamTarget = { baseUrl: t.stack.url, apiKey: t.apiKey, agent: jsonAgent };
      let streams: SoakStream[] = [];
      let sampler: NodeJS.Timeout | undefined;
      const peak: ProcStats[] = pids.map(() => ({ rssBytes: 0, fds: 0 }));
      const sample = () => {
        snapshot(pids).forEach((s, i) => {
          peak[i] = {
            rssBytes: Math.max(peak[i]!.rssBytes, s.rssBytes),
            fds: Math.max(peak[i]!.fds, s.fds),
          };
        });
      };

      try {
        // Negative control for the subscription probe: nobody listens on a fresh idle session.
        for (const id of idleIds.slice(0, 3)) expect(await liveSubscribed(id)).toBe(false);

        // Warm-up: a few streams and one turn per busy session, so the code paths are compiled and
        // every busy session has a log; then those connections go away before the baseline.
        const beforeWarmup = sum(snapshot(pids));
        const warmAgent = new http.Agent({ keepAlive: true, maxSockets: Number.POSITIVE_INFINITY });
        const warmTarget: StreamTarget = { ...streamTarget, agent: warmAgent };
        const warm = busyIds.flatMap((id) => [0, 1].map(() => new SoakStream(ledgers.get(id)!, warmTarget)));
        await Promise.all(warm.map((s) => s.open().connected));
        await Promise.all(
          busyIds.map((id) =>
            turn(
              warmTarget,
              id,
              warm.filter((s) => s.sessionId === id),
              0,
              "warm-up",
            ),
          ),
        );
        for (const s of warm) {
          expect(s.error).toBeUndefined();
          s.close();
        }
        warmAgent.destroy();
        await expect
          .poll(() => sum(snapshot(pids)).fds, { timeout: 30_000, interval: 200 })
          .toBeLessThanOrEqual(beforeWarmup.fds);
        const logged = new Map<string, number>();
        for (const id of busyIds) logged.set(id, (await listEventIds(jsonTarget, id)).length);

        // Baseline.
        const baseline = snapshot(pids);
        baseline.forEach((s, i) => {
          gw[i]!.baseline = s;
        });

        // Open every stream: half over the busy sessions, half over the idle ones.
        const busyStreams = Math.ceil(STREAMS / 2);
        streams = Array.from({ length: STREAMS }, (_, i) => {
          const id = i < busyStreams ? busyIds[i % BUSY]! : idleIds[(i - busyStreams) % IDLE]!;
          return new SoakStream(ledgers.get(id)!, streamTarget);
        });
        const openStarted = Date.now();
        await mapLimit(streams, OPEN_CONCURRENCY, (s) => s.open().connected);
        const openMs = Date.now() - openStarted;
        const opened = snapshot(pids);
        opened.forEach((s, i) => {
          gw[i]!.opened = s;
        });
        sample();
        sampler = setInterval(sample, 1_000);
        // Positive control: with the streams open, the idle sessions' live subjects have listeners.
        expect(await liveSubscribed(idleIds[0]!)).toBe(true);

        // Traffic until the deadline: each busy session takes turns back to back.
        const byBusy = new Map(busyIds.map((id) => [id, streams.filter((s) => s.sessionId === id)]));
        const soakStarted = Date.now();
        const deadline = soakStarted + SECONDS * 1_000;
        const turns = new Map<string, number>();
        await Promise.all(
          busyIds.map(async (id) => {
            let n = 0;
            while (Date.now() < deadline) {
              n++;
              await turn(jsonTarget, id, byBusy.get(id)!, n, `soak ${id} #${n}`);
            }
            turns.set(id, n);
          }),
        );
        const soakMs = Date.now() - soakStarted;
        // Every stream has been pinged at least once (the idle ones see nothing else).
        await Promise.all(streams.map((s) => s.waitUntil(() => s.pings > 0, "a ping", PING_MS * 5 + 30_000)));
        sample();

        // Exactly once, in order: each busy stream saw its session's log after the warm-up.
        const expected = new Map<string, string[]>();
        for (const id of busyIds)
          expected.set(id, (await listEventIds(jsonTarget, id)).slice(logged.get(id)));
        for (const s of streams) {
          expect(s.error, `stream of ${s.sessionId}`).toBeUndefined();
          expect(s.duplicates, `duplicates on a stream of ${s.sessionId}`).toBe(0);
          const want = expected.get(s.sessionId) ?? [];
          const got = s.order.map((n) => s.ledger.ids[n]!);
          if (got.length !== want.length || got.some((id, i) => id !== want[i])) {
            expect(got, `events of a stream of ${s.sessionId}`).toEqual(want);
          }
        }
        const totalTurns = [...turns.values()].reduce((a, n) => a + n, 0);
        const eventsSeen = streams.reduce((a, s) => a + s.order.length, 0);
        results.streams = {
          opened: streams.length,
          on_busy_sessions: busyStreams,
          on_idle_sessions: STREAMS - busyStreams,
          errored: streams.filter((s) => s.error).length,
          duplicates: streams.reduce((a, s) => a + s.duplicates, 0),
          events_seen: eventsSeen,
          pings_seen: streams.reduce((a, s) => a + s.pings, 0),
          bytes_read: streams.reduce((a, s) => a + s.bytes, 0),
        };
        results.traffic = {
          turns: totalTurns,
          events_logged: [...expected.values()].reduce((a, ids) => a + ids.length, 0),
        };
        results.durations_s = { open_all: openMs / 1_000, soak: soakMs / 1_000 };

        // Close everything the client holds; the gateway must give it all back.
        clearInterval(sampler);
        sampler = undefined;
        sample();
        peak.forEach((p, i) => {
          gw[i]!.peak = p;
        });
        for (const s of streams) s.close();
        streamAgent.destroy();
        jsonAgent.destroy();
        const closedAt = Date.now();
        const base = sum(baseline);
        await expect
          .poll(() => sum(snapshot(pids)).fds, { timeout: SETTLE_TIMEOUT_MS, interval: 250 })
          .toBeLessThanOrEqual(base.fds + FD_MARGIN);
        const fdsSettledMs = Date.now() - closedAt;
        for (const id of [...busyIds, ...idleIds]) {
          await expect.poll(() => liveSubscribed(id), { timeout: 30_000, interval: 250 }).toBe(false);
        }
        await expect
          .poll(() => sum(snapshot(pids)).rssBytes, { timeout: SETTLE_TIMEOUT_MS, interval: 500 })
          .toBeLessThanOrEqual(rssBound(base.rssBytes));
        const rssSettledMs = Date.now() - closedAt;
        const after = snapshot(pids);
        after.forEach((s, i) => {
          gw[i]!.after = s;
        });
        results.durations_s = {
          ...(results.durations_s as object),
          fds_settled: fdsSettledMs / 1_000,
          rss_settled: rssSettledMs / 1_000,
        };
        results.nats_live_subscriptions_released = true;

        // Still serving: fresh streams on a busy and an idle session get the next turn / a ping.
        const againAgent = new http.Agent({ keepAlive: false });
        try {
          const againTarget: StreamTarget = { ...streamTarget, agent: againAgent };
          const id = busyIds[0]!;
          const fresh = [0, 1, 2].map(() => new SoakStream(ledgers.get(id)!, againTarget));
          const idle = new SoakStream(ledgers.get(idleIds[0]!)!, againTarget);
          await Promise.all([...fresh, idle].map((s) => s.open().connected));
          await turn(againTarget, id, fresh, 1, "after the soak");
          await idle.waitUntil(() => idle.pings > 0, "a ping", PING_MS * 5 + 30_000);
          const tail = (await listEventIds(againTarget, id)).slice(-fresh[0]!.order.length);
          for (const s of [...fresh, idle]) {
            expect(s.error).toBeUndefined();
            expect(s.duplicates).toBe(0);
          }
          for (const s of fresh) expect(s.order.map((n) => s.ledger.ids[n])).toEqual(tail);
          expect(idle.order).toEqual([]);
          for (const s of [...fresh, idle]) s.close();
        } finally {
          againAgent.destroy();
        }
        results.serves_after = true;
      } finally {
        if (sampler) clearInterval(sampler);
        for (const s of streams) s.close();
        streamAgent.destroy();
        jsonAgent.destroy();
        results.finished_at = new Date().toISOString();
        results.duration_s = (Date.now() - startedAt.getTime()) / 1_000;
        results.gateways = gw.map((g) => ({
          pid: g.pid,
          ...Object.fromEntries(
            (["baseline", "opened", "peak", "after"] as const)
              .filter((k) => g[k])
              .map((k) => [k, { rss_mib: mib(g[k]!.rssBytes), fds: g[k]!.fds }]),
          ),
        }));
        mkdirSync(dirname(RESULTS), { recursive: true });
        writeFileSync(RESULTS, `${JSON.stringify(results, null, 2)}\n`);
        console.log(`soak figures: ${RESULTS}\n${JSON.stringify(results.gateways)}`);
      }
    },
    SECONDS * 1_000 + 540_000,
  );
});
