/**
 * Every service with OPS_PORT=0 serves /healthz, /readyz and /metrics on its own port, announced
 * on its ready line. Scrapes before and after real sessions show the Tendon metrics exist and
 * move: a model turn with an overloaded first attempt and a bash tool call (harness, session-log,
 * gateway, sandbox-manager, credential-proxy), a lease taken from a worker whose liveness lapsed
 * (session-log), and a wake-up redelivered while no sandbox-manager answers (harness).
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type Anthropic from "@anthropic-ai/sdk";
import { busOptions, createBus } from "@tendon/bus";
import {
  type NatsRole,
  type OpsEndpoint,
  renderNatsConfig,
  rolePermissions,
  type ServiceName,
} from "@tendon/cli";
import { SessionLog } from "@tendon/contracts";
import type { Step } from "@tendon/mock-model";
import { freePort, spawnProcess, uniquePrefix, waitFor } from "@tendon/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { collect, isEndTurn } from "../support/sse.js";
import { startTestStack, type TestStack } from "../support/stack.js";

let t: TestStack;
let client: Anthropic;
let environmentId: string;

const SERVICES: ServiceName[] = [
  "gateway",
  "session-log",
  "harness-worker",
  "sandbox-manager",
  "credential-proxy",
];

beforeAll(async () => {
  t = await startTestStack({ env: { OPS_PORT: "0" } });
  client = t.client;
  environmentId = (await client.beta.environments.create({ name: `metrics-${Date.now()}` })).id;
});
afterAll(async () => {
  await t?.stop();
});

/** One parsed exposition: sample lines as name, labels and value. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function parse(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`unparseable exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

class Scrape {
  constructor(readonly samples: Sample[]) {}
  has(name: string): boolean {
    return this.samples.some((s) => s.name === name);
  }
  /** Sum of the samples of `name` whose labels include `labels` (0 when none). */
  sum(name: string, labels: Record<string, string> = {}): number {
    return this.samples
      .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
      .reduce((a, s) => a + s.value, 0);
  }
}

function endpoint(service: ServiceName): OpsEndpoint {
  const list = t.stack.ops.filter((o) => o.service === service);
  const e = list.at(-1);
  if (!e) throw new Error(`no ops listener announced by ${service}`);
  return e;
}

async function scrape(service: ServiceName): Promise<Scrape> {
  const res = await fetch(`${endpoint(service).url}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
  return new Scrape(parse(await res.text()));
}

async function scrapeAll(): Promise<Record<ServiceName, Scrape>> {
  const entries = await Promise.all(SERVICES.map(async (s) => [s, await scrape(s)] as const));
  return Object.fromEntries(entries) as Record<ServiceName, Scrape>;
}

async function toolSession(tag: string, steps: Step[]) {
  const model = `mock-${tag}-${Math.random().toString(36).slice(2, 8)}`;
  t.mock.script(model, { steps });
  const agent = await client.beta.agents.create({
    name: tag,
    model,
    tools: [{ type: "agent_toolset_20260401" }],
  });
  return client.beta.sessions.create({ agent: agent.id, environment_id: environmentId });
}

async function runTurn(sessionId: string): Promise<void> {
  const stream = await collect(client, sessionId);
  await client.beta.sessions.events.send(sessionId, {
    events: [{ type: "user.message", content: [{ type: "text", text: "go" }] }],
  });
  await stream.until(isEndTurn, 60_000);
  stream.close();
}

describe("ops listeners and metrics", () => {
  it("every service announces an ops listener whose /healthz and /readyz answer 200", async () => {
    expect(new Set(t.stack.ops.map((o) => o.service))).toEqual(new Set(SERVICES));
    for (const o of t.stack.ops) {
      expect(o.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const health = await fetch(`${o.url}/healthz`);
      expect(health.status, `${o.name} /healthz`).toBe(200);
      const ready = await fetch(`${o.url}/readyz`);
      expect(ready.status, `${o.name} /readyz`).toBe(200);
      const body = (await ready.json()) as { ok: boolean; checks: Record<string, string> };
      expect(body.checks.nats).toBe("ok");
      if (o.service === "session-log" || o.service === "credential-proxy") {
        expect(body.checks.database).toBe("ok");
      }
    }
    // The gateway keeps its own probes on the API port.
    expect((await fetch(`${t.stack.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${t.stack.url}/readyz`)).status).toBe(200);
  });

  it("a model turn with a retried model error and a tool call moves every service's metrics", async () => {
    const before = await scrapeAll();
    for (const s of SERVICES) {
      expect(before[s].has("process_cpu_user_seconds_total"), s).toBe(true);
      expect(before[s].has("nodejs_eventloop_lag_seconds"), s).toBe(true);
    }
    expect(before["harness-worker"].has("tendon_wake_queue_depth")).toBe(true);
    expect(before["harness-worker"].has("tendon_wake_queue_oldest_age_seconds")).toBe(true);
    expect(before["harness-worker"].has("tendon_turns_in_flight")).toBe(true);

    const s = await toolSession("turn", [
      {
        content: [{ type: "tool_use", name: "bash", input: { command: "echo metrics" } }],
        failures: [{ status: 529 }],
      },
      { content: [{ type: "text", text: "done" }] },
    ]);
    await runTurn(s.id);
    const after = await scrapeAll();
    const moved = (svc: ServiceName, name: string, labels: Record<string, string> = {}) =>
      after[svc].sum(name, labels) - before[svc].sum(name, labels);

    // harness-worker: two successful model calls, one overloaded, turns timed, wakes taken.
    expect(moved("harness-worker", "tendon_model_requests_total", { outcome: "ok" })).toBeGreaterThanOrEqual(
      2,
    );
    expect(moved("harness-worker", "tendon_model_errors_total", { type: "model_overloaded_error" })).toBe(1);
    expect(moved("harness-worker", "tendon_model_time_to_first_token_seconds_count")).toBeGreaterThanOrEqual(
      2,
    );
    expect(
      moved("harness-worker", "tendon_turn_duration_seconds_count", { outcome: "done" }),
    ).toBeGreaterThanOrEqual(1);
    expect(moved("harness-worker", "tendon_wakes_total", { result: "driven" })).toBeGreaterThanOrEqual(1);
    expect(after["harness-worker"].sum("tendon_turns_in_flight")).toBe(0);
    expect(after["harness-worker"].sum("tendon_wake_queue_depth")).toBe(0);

    // session-log: the turn's events were appended; harness appends went through its endpoints.
    const events = await client.beta.sessions.events.list(s.id, { limit: 100 });
    expect(moved("session-log", "tendon_events_appended_total")).toBeGreaterThanOrEqual(events.data.length);
    expect(
      moved("session-log", "tendon_rpc_requests_total", { op: "harness.append", code: "ok" }),
    ).toBeGreaterThan(0);
    expect(
      moved("session-log", "tendon_rpc_request_duration_seconds_count", { op: "harness.append" }),
    ).toBeGreaterThan(0);
    expect(moved("session-log", "tendon_lease_acquisitions_total")).toBeGreaterThanOrEqual(1);

    // gateway: requests by route template, never by raw path.
    expect(
      moved("gateway", "tendon_http_requests_total", {
        method: "POST",
        route: "/v1/sessions",
        status: "200",
      }),
    ).toBe(1);
    expect(
      moved("gateway", "tendon_http_requests_total", {
        method: "POST",
        route: "/v1/sessions/:id/events",
        status: "200",
      }),
    ).toBe(1);
    expect(moved("gateway", "tendon_http_request_duration_seconds_count", { route: "/v1/sessions" })).toBe(1);
    expect(after.gateway.samples.some((x) => x.labels.route?.includes(s.id))).toBe(false);

    // sandbox-manager: one sandbox provisioned and ready.
    expect(
      moved("sandbox-manager", "tendon_sandbox_provision_duration_seconds_count", { outcome: "ok" }),
    ).toBe(1);
    expect(after["sandbox-manager"].sum("tendon_sandboxes", { state: "ready" })).toBeGreaterThanOrEqual(1);

    // credential-proxy: the sandbox registered for egress through its endpoint.
    expect(
      moved("credential-proxy", "tendon_rpc_requests_total", { op: "egress.register", code: "ok" }),
    ).toBe(1);

    // No label anywhere carries a session id.
    for (const svc of SERVICES) {
      expect(
        after[svc].samples.filter((x) => Object.values(x.labels).some((v) => v.startsWith("sesn_"))),
      ).toEqual([]);
    }
  });

  it("a lease taken from a worker whose liveness lapsed counts as a takeover", async () => {
    const before = await scrape("session-log");
    const s = await client.beta.sessions.create({
      agent: (await client.beta.agents.create({ name: "idle", model: "mock-idle" })).id,
      environment_id: environmentId,
    });
    // Two worker ids that never heartbeat: the second finds the first without liveness.
    const bus = await t.bus();
    await bus.request(SessionLog.harnessAcquire, { session_id: s.id, worker_id: "wrk_metricsghost1" });
    await bus.request(SessionLog.harnessAcquire, { session_id: s.id, worker_id: "wrk_metricsghost2" });
    const after = await scrape("session-log");
    expect(after.sum("tendon_lease_takeovers_total") - before.sum("tendon_lease_takeovers_total")).toBe(1);
    expect(
      after.sum("tendon_lease_acquisitions_total", { kind: "fresh" }) -
        before.sum("tendon_lease_acquisitions_total", { kind: "fresh" }),
    ).toBe(1);
  });

  it("a wake-up redelivered while no sandbox-manager answers counts as a redelivery", async () => {
    const before = await scrape("harness-worker");
    const [manager] = t.stack.sandboxManagers.splice(0, 1);
    await manager!.stop(10_000);
    const s = await toolSession("redeliver", [
      { content: [{ type: "tool_use", name: "bash", input: { command: "echo again" } }] },
      { content: [{ type: "text", text: "done" }] },
    ]);
    const stream = await collect(client, s.id);
    await client.beta.sessions.events.send(s.id, {
      events: [{ type: "user.message", content: [{ type: "text", text: "go" }] }],
    });
    // The turn fails (no sandbox can be provisioned), is nak'd and comes back.
    await waitFor(
      async () => {
        const now = await scrape("harness-worker");
        return (
          now.sum("tendon_wake_redeliveries_total") > before.sum("tendon_wake_redeliveries_total") ||
          undefined
        );
      },
      { timeoutMs: 30_000 },
    );
    await t.stack.startService("sandbox-manager");
    await stream.until(isEndTurn, 60_000);
    stream.close();
    const after = await scrape("harness-worker");
    expect(after.sum("tendon_turn_duration_seconds_count", { outcome: "failed" })).toBeGreaterThan(
      before.sum("tendon_turn_duration_seconds_count", { outcome: "failed" }),
    );
    // The replacement sandbox-manager announced its own ops listener and provisioned the sandbox.
    const sm = await scrape("sandbox-manager");
    expect(sm.sum("tendon_sandbox_provision_duration_seconds_count", { outcome: "ok" })).toBe(1);
  });

  it("under its least-privilege NATS user a harness worker reads the wake queue, oldest waiting age included", async () => {
    // A nats-server of its own running the generated per-role config (never the shared server).
    const prefix = uniquePrefix("opsroles");
    const passwords = Object.fromEntries(
      Object.keys(rolePermissions(prefix)).map((r) => [r, randomBytes(16).toString("hex")]),
    ) as Record<NatsRole, string>;
    const dir = mkdtempSync(join(tmpdir(), "tendon-ops-roles-"));
    const port = await freePort();
    writeFileSync(
      join(dir, "nats.conf"),
      renderNatsConfig({ prefix, port, storeDir: join(dir, "js"), passwords }),
    );
    const nats = await spawnProcess({
      name: "nats-server-ops-roles",
      command: "nats-server",
      args: ["-a", "127.0.0.1", "-c", join(dir, "nats.conf")],
      ready: /Server is ready/,
    });
    const as = (role: NatsRole, service: string) =>
      createBus(
        busOptions(
          {
            NATS_URL: `nats://127.0.0.1:${port}`,
            NATS_USER: role,
            NATS_PASSWORD: passwords[role],
            TENDON_PREFIX: prefix,
          },
          service,
        ),
      );
    const sessionLog = await as("session_log", "session-log");
    const harness = await as("harness", "harness-worker");
    try {
      await harness.ensureWakeConsumer({});
      expect(await harness.wakeQueueStats()).toEqual({ pending: 0, ackPending: 0, oldestPendingAgeMs: 0 });
      // Nobody consumes: the wake-up waits, and its age comes from reading it (STREAM.MSG.GET).
      await sessionLog.enqueueWake({
        v: 1,
        session_id: "sesn_011CZopsroles00000000001",
        reason: "input",
        cause: "in:1",
      });
      const stats = await waitFor(async () => {
        const s = await harness.wakeQueueStats();
        return s.pending === 1 && s.oldestPendingAgeMs > 0 ? s : undefined;
      });
      expect(stats.ackPending).toBe(0);
    } finally {
      await sessionLog.close();
      await harness.close();
      await nats.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
