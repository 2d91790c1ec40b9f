/**
 * Property-based fuzzing of the gateway's HTTP API against a real stack (every service its own
 * process, real NATS and Postgres, the mock model).
 *
 * What it sends: valid bodies of every write route mutated (fields dropped, added, renamed, retyped,
 * huge, 10k-deep, unicode edge cases, numbers out of range), random event batches, junk headers
 * (auth, anthropic-version/-beta, content-type), junk query strings on every list route, malformed
 * ids in paths, broken framing (invalid UTF-8, truncated JSON, Content-Length lies, bad chunking),
 * and slow or aborted uploads over raw sockets.
 *
 * What must hold for every request (./wire.ts): a 2xx that parses with the route's response schema,
 * or a taxonomy 4xx in the API's error envelope; never a 5xx, never a hang; no response echoes a
 * secret the fuzz sent. Across the run: the gateways (and the services behind them) stay up and
 * answer /healthz and /readyz; "witness" sessions — which only ever receive requests the server
 * must refuse — keep byte-for-byte the same event log and the same session object.
 *
 * Knobs (environment):
 * - TENDON_FUZZ_RUNS   runs per property (default 40: the bounded CI size, ~1–2 minutes on 2 cores).
 *                      Each run sends a batch of up to 4 requests concurrently. Full size by hand:
 *                      TENDON_FUZZ_RUNS=1000 npx vitest run test/fuzz/
 * - TENDON_FUZZ_SEED   fast-check seed (default: random). A failure prints `seed` and `path`.
 * - TENDON_FUZZ_PATH   replay one counterexample: TENDON_FUZZ_SEED=<seed> TENDON_FUZZ_PATH=<path>
 *                      npx vitest run test/fuzz/ -t "<property name>"
 * - TENDON_FUZZ_SHRINK set to 0 to report the first counterexample without shrinking it.
 *
 * Regression examples (`REGRESSIONS`) are sent on every run before the random ones.
 */

import { isDeepStrictEqual } from "node:util";
import {
  Agent,
  AgentCreateParams,
  AgentUpdateParams,
  Credential,
  CredentialCreateParams,
  CredentialUpdateParams,
  Environment,
  EnvironmentCreateParams,
  EnvironmentKey,
  EnvironmentKeyCreateParams,
  EnvironmentUpdateParams,
  ResourceAddParams,
  ResourceUpdateParams,
  SendEventsParams,
  Session,
  SessionCreateParams,
  SessionLog,
  SessionResource,
  SessionUpdateParams,
  Vault,
  VaultCreateParams,
  VaultUpdateParams,
} from "@tendon/contracts";
import { waitFor } from "@tendon/testing";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestStack, type TestStack } from "../support/stack.js";
import {
  agentCreate,
  agentUpdate,
  credentialCreate,
  credentialUpdate,
  environmentCreate,
  environmentKeyCreate,
  environmentUpdate,
  eventBatch,
  type Fixture,
  predictEvents,
  randomId,
  refusedEventBatch,
  resourceAdd,
  resourceUpdate,
  type SessionKind,
  secret,
  sessionCreate,
  sessionUpdate,
  vaultCreate,
  vaultUpdate,
} from "./bodies.js";
import {
  edgeString,
  isWellFormed,
  type Json,
  mutated,
  raw,
  render,
  toWellFormed,
  unicodeString,
} from "./mutate.js";
import { targetOf, writeAsync } from "./raw-http.js";
import { check, type Expect, isPage, type Schema, type Sent, Wire } from "./wire.js";

// ---- knobs ----

function intEnv(name: string, dflt: number): number {
  const v = process.env[name];
  if (v === undefined || v === "") return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got ${v}`);
  return n;
}
const RUNS = intEnv("TENDON_FUZZ_RUNS", 40);
const SEED = process.env.TENDON_FUZZ_SEED ? intEnv("TENDON_FUZZ_SEED", 0) : undefined;
const PATH = process.env.TENDON_FUZZ_PATH || undefined;
const SHRINK = process.env.TENDON_FUZZ_SHRINK !== "0";

function params(scale = 1): fc.Parameters<unknown> {
  return {
    numRuns: Math.max(1, Math.ceil(RUNS * scale)),
    ...(SEED !== undefined ? { seed: SEED } : {}),
    ...(PATH ? { path: PATH } : {}),
    ...(SHRINK ? {} : { endOnFailure: true }),
  };
}

const OK_MODEL = "fuzz-ok";
const TOOL_MODEL = "fuzz-tool";
const MAX_BATCH = 4;
const HUGE = 900_000;

// ---- the stack and its fixture ----

let t: TestStack;
let wire: Wire;
const perProperty: Array<{ name: string; requests: number }> = [];

interface Witness {
  id: string;
  kind: SessionKind;
  /** The event pages (raw bytes, all pages) and the session object when fuzzing started. */
  events: string;
  session: unknown;
}

interface Fx extends Fixture {
  agentTool: string;
  agentTarget: string;
  envTarget: string;
  credential: string;
  /** Sessions that take valid events (and whatever else the fuzz finds valid). */
  scratch: string[];
  /** Sessions that take valid updates. */
  updatable: string[];
  /** A session with a repository resource, and its id. */
  repoSession: string;
  repoResource: string;
  witnesses: Witness[];
  /** Real page cursors, to mutate. */
  cursors: string[];
}
let fx: Fx;

async function api<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${t.stack.url}${path}`, {
    method,
    headers: {
      "x-api-key": t.apiKey,
      ...(body !== undefined ? { "content-type": "application/json" } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path} → ${res.status} ${text}`);
  return JSON.parse(text) as T;
}

/** Every page of a session's events, as the bytes the gateway sent. */
async function eventPages(id: string): Promise<string> {
  const pages: string[] = [];
  let page: string | null = null;
  do {
    const q: string = page ? `&page=${encodeURIComponent(page)}` : "";
    const res = await fetch(`${t.stack.url}/v1/sessions/${id}/events?limit=3${q}`, {
      headers: { "x-api-key": t.apiKey },
    });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`listing ${id}: ${res.status} ${text}`);
    pages.push(text);
    page = (JSON.parse(text) as { next_page: string | null }).next_page;
  } while (page);
  return pages.join("\n");
}

/** The session object without what changes by itself (activity statistics). */
async function sessionState(id: string): Promise<unknown> {
  const s = await api<Record<string, unknown>>("GET", `/v1/sessions/${id}`);
  const { stats: _stats, ...rest } = s;
  return rest;
}

async function settle(id: string, stop: "end_turn" | "requires_action"): Promise<void> {
  await waitFor(
    async () => {
      const s = await api<{ status: string }>("GET", `/v1/sessions/${id}`);
      if (s.status !== "idle") return false;
      const evs = await api<{ data: Array<{ type: string; stop_reason?: { type: string } }> }>(
        "GET",
        `/v1/sessions/${id}/events?order=desc&limit=1`,
      );
      const last = evs.data[0];
      return last?.type === "session.status_idle" && last.stop_reason?.type === stop;
    },
    { timeoutMs: 60_000, message: `session ${id} to idle with ${stop}` },
  );
}

const say = (text: string) => ({ events: [{ type: "user.message", content: [{ type: "text", text }] }] });

async function newSession(agent: string, env: string, extra: Record<string, unknown> = {}): Promise<string> {
  return (await api<{ id: string }>("POST", "/v1/sessions", { agent, environment_id: env, ...extra })).id;
}

async function setup(): Promise<Fx> {
  t.mock.script(OK_MODEL, { steps: [{ content: [{ type: "text", text: "ok" }] }], repeat_last: true });
  t.mock.script(TOOL_MODEL, {
    steps: [{ content: [{ type: "tool_use", name: "lookup", input: { q: "x" } }] }],
    repeat_last: true,
  });
  const envMain = (await api<{ id: string }>("POST", "/v1/environments", { name: "fuzz-main" })).id;
  const envTarget = (await api<{ id: string }>("POST", "/v1/environments", { name: "fuzz-target" })).id;
  const agentOk = (await api<{ id: string }>("POST", "/v1/agents", { name: "ok", model: OK_MODEL })).id;
  const agentTarget = (await api<{ id: string }>("POST", "/v1/agents", { name: "target", model: OK_MODEL }))
    .id;
  const agentTool = (
    await api<{ id: string }>("POST", "/v1/agents", {
      name: "tool",
      model: TOOL_MODEL,
      tools: [
        {
          type: "custom",
          name: "lookup",
          description: "look something up",
          input_schema: { type: "object", properties: { q: { type: "string" } } },
        },
      ],
    })
  ).id;
  const vault = (await api<{ id: string }>("POST", "/v1/vaults", { display_name: "fuzz" })).id;
  const fixtureSecret = fc.sample(secret, { numRuns: 1, seed: 1 })[0]!;
  const credential = (
    await api<{ id: string }>("POST", `/v1/vaults/${vault}/credentials`, {
      display_name: "bearer",
      auth: { type: "static_bearer", mcp_server_url: "https://mcp.example.com/sse", token: fixtureSecret },
    })
  ).id;
  wire.secrets.add(fixtureSecret);

  // Witnesses: idle after one turn, idle after two, never used, waiting on a custom tool, archived.
  const idle1 = await newSession(agentOk, envMain);
  await api("POST", `/v1/sessions/${idle1}/events`, say("hello"));
  const idle2 = await newSession(agentOk, envMain, { title: "two turns", metadata: { k: "v" } });
  await api("POST", `/v1/sessions/${idle2}/events`, say("one"));
  const fresh = await newSession(agentOk, envMain);
  const waiting = await newSession(agentTool, envMain);
  await api("POST", `/v1/sessions/${waiting}/events`, say("use the tool"));
  const archived = await newSession(agentOk, envMain);
  await api("POST", `/v1/sessions/${archived}/events`, say("bye"));
  await Promise.all([settle(idle1, "end_turn"), settle(idle2, "end_turn"), settle(archived, "end_turn")]);
  await api("POST", `/v1/sessions/${idle2}/events`, say("two"));
  await api("POST", `/v1/sessions/${archived}/archive`);
  await Promise.all([settle(idle2, "end_turn"), settle(waiting, "requires_action")]);

  const scratch = [await newSession(agentOk, envMain), await newSession(agentOk, envMain)];
  const updatable = [await newSession(agentOk, envMain), await newSession(agentOk, envMain)];
  const repoToken = fc.sample(secret, { numRuns: 1, seed: 2 })[0]!;
  wire.secrets.add(repoToken);
  const repo = await api<{ id: string; resources: Array<{ id: string }> }>("POST", "/v1/sessions", {
    agent: agentOk,
    environment_id: envMain,
    resources: [
      { type: "github_repository", url: "https://github.com/fuzz/repo", authorization_token: repoToken },
    ],
  });

  const cursors: string[] = [];
  for (const path of ["/v1/agents?limit=1", "/v1/sessions?limit=1", `/v1/sessions/${idle2}/events?limit=1`]) {
    const p = await api<{ next_page: string | null }>("GET", path);
    if (p.next_page) cursors.push(p.next_page);
  }
  const witnesses: Witness[] = [];
  for (const [id, kind] of [
    [idle1, "idle"],
    [idle2, "idle"],
    [fresh, "idle"],
    [waiting, "requires_action"],
    [archived, "archived"],
  ] as const) {
    witnesses.push({ id, kind, events: await eventPages(id), session: await sessionState(id) });
  }
  return {
    okModel: OK_MODEL,
    agentOk,
    agentTool,
    agentTarget,
    envMain,
    envTarget,
    vault,
    credential,
    scratch,
    updatable,
    repoSession: repo.id,
    repoResource: repo.resources[0]!.id,
    witnesses,
    cursors,
  };
}

beforeAll(async () => {
  t = await startTestStack({ gateways: 2, harnessWorkers: 1 });
  wire = new Wire(t.stack.urls.map(targetOf), t.apiKey);
  fx = await setup();
});

afterAll(async () => {
  if (wire) {
    const statuses = [...wire.statuses.entries()]
      .sort((a, b) => String(a[0]).localeCompare(String(b[0])))
      .map(([k, v]) => `${k}:${v}`)
      .join(" ");
    console.log(
      `[fuzz] runs/property=${RUNS} seed=${SEED ?? "random"} requests=${wire.requests} ` +
        `(${perProperty.map((p) => `${p.name}=${p.requests}`).join(", ")}) statuses ${statuses}`,
    );
  }
  await t?.stop();
});

// ---- helpers shared by the properties ----

function tryParse(text: string): { ok: true; value: unknown } | { ok: false } {
  if (text === "") return { ok: true, value: {} };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

/** Whether the gateway's zod schema accepts the body (what the gateway parses, exactly). */
function accepts(schema: Schema, text: string): boolean {
  const p = tryParse(text);
  return p.ok && schema.safeParse(p.value).success;
}

/** Postgres stores neither NUL characters nor unpaired surrogates (in text or jsonb). */
function storable(v: unknown): boolean {
  if (typeof v === "string") return !v.includes("\u0000") && isWellFormed(v);
  if (Array.isArray(v)) return v.every(storable);
  if (v !== null && typeof v === "object") {
    return Object.entries(v).every(([k, x]) => storable(k) && storable(x));
  }
  return true;
}

const witness = (pick: number, kinds?: readonly SessionKind[]): Witness => {
  const pool = kinds ? fx.witnesses.filter((w) => kinds.includes(w.kind)) : fx.witnesses;
  return pool[pick % pool.length]!;
};

async function assertAlive(): Promise<void> {
  const procs = [
    ...t.stack.gateways,
    ...t.stack.sessionLogs,
    ...t.stack.credentialProxies,
    ...t.stack.harness,
  ];
  for (const p of procs) {
    if (!p.running()) throw new Error(`${p.name} exited; last output:\n${p.lines().slice(-30).join("\n")}`);
  }
  for (const url of t.stack.urls) {
    for (const path of ["/healthz", "/readyz"]) {
      const res = await fetch(`${url}${path}`);
      expect(res.status, `${url}${path}`).toBe(200);
    }
  }
}

async function assertWitnessesUnchanged(): Promise<void> {
  for (const w of fx.witnesses) {
    expect(await eventPages(w.id), `the event log of witness ${w.id} (${w.kind})`).toBe(w.events);
    expect(await sessionState(w.id), `witness session ${w.id} (${w.kind})`).toEqual(w.session);
  }
}

/** Runs one property, counting its requests; checks liveness afterwards. */
async function runProperty<T>(name: string, arb: fc.Arbitrary<T>, body: (v: T) => Promise<void>, scale = 1) {
  const before = wire.requests;
  try {
    await fc.assert(fc.asyncProperty(arb, body), params(scale));
  } finally {
    perProperty.push({ name, requests: wire.requests - before });
  }
  await assertAlive();
}

/** Sends a batch concurrently and checks every response. */
async function sendAll(
  batch: ReadonlyArray<{ send: () => Promise<Sent>; expect: Expect; after?: (v: unknown) => void }>,
) {
  const results = await Promise.all(batch.map((b) => b.send()));
  results.forEach((sent, i) => {
    // A body over the limit gets a 413 and the connection closes (RFC 9110 §15.5.14); a client
    // still writing may see the reset before the 413 (seen under load), which is allowed too.
    const exp = batch[i]!.expect;
    const tooBig = (sent.spec.body?.length ?? 0) > HUGE;
    const parsed = check(wire, sent, tooBig ? { ...exp, mayClose: true } : exp);
    batch[i]!.after?.(parsed);
  });
}

const batchOf = <T>(a: fc.Arbitrary<T>) => fc.array(a, { minLength: 1, maxLength: MAX_BATCH });

/**
 * Lock-step rounds for slow writers: each writer parks in `next()`; the driver waits until every
 * writer still writing has parked, does something, and releases them all for one more chunk.
 */
class Pacer {
  private parked: Array<() => void> = [];
  private changed: (() => void) | undefined;
  constructor(private active: number) {}
  get remaining(): number {
    return this.active;
  }
  next(): Promise<void> {
    return new Promise((resolve) => {
      this.parked.push(resolve);
      this.changed?.();
    });
  }
  done(): void {
    this.active--;
    this.changed?.();
  }
  allParked(): Promise<void> {
    return new Promise((resolve) => {
      const test = () => {
        if (this.parked.length >= this.active) {
          this.changed = undefined;
          resolve();
        }
      };
      this.changed = test;
      test();
    });
  }
  release(): void {
    for (const r of this.parked.splice(0)) r();
  }
}

// ---- explicit regressions (bugs the fuzz found) ----

interface Regression {
  name: string;
  method: string;
  path: () => string;
  body?: string | Buffer;
  headers?: Array<[string, string | Buffer]>;
  statuses: number[];
}

const cursorOf = (c: unknown) => Buffer.from(JSON.stringify(c)).toString("base64url");
const REGRESSIONS: Regression[] = [
  { name: "NUL in a path id", method: "GET", path: () => "/v1/agents/agent_%00", statuses: [400, 404] },
  {
    name: "a JSON null body on an update",
    method: "POST",
    path: () => `/v1/agents/${fx.agentOk}`,
    body: "null",
    statuses: [400],
  },
  {
    name: "stream of an id that is no subject token",
    method: "GET",
    path: () => "/v1/sessions/agent_%20/events/stream",
    statuses: [404],
  },
  {
    name: "agent version beyond int4",
    method: "GET",
    path: () => `/v1/agents/${fx.agentOk}?version=99999999999`,
    statuses: [400, 404],
  },
  {
    name: "forged event cursor with a non-numeric key",
    method: "GET",
    path: () => `/v1/sessions/${fx.witnesses[0]!.id}/events?page=${cursorOf({ o: "asc", k: ["x"] })}`,
    statuses: [400],
  },
  {
    name: "forged agents cursor",
    method: "GET",
    path: () => `/v1/agents?page=${cursorOf({ o: "desc", k: ["x", "y"] })}`,
    statuses: [400],
  },
  {
    name: "forged vaults cursor",
    method: "GET",
    path: () => `/v1/vaults?page=${cursorOf({ o: "desc", k: [1e300, {}] })}`,
    statuses: [400],
  },
  {
    name: "JSON nested 10k deep",
    method: "POST",
    path: () => "/v1/agents",
    body: `{"name":"a","model":"m","multiagent":{"x":${"[".repeat(10_000)}${"]".repeat(10_000)}}}`,
    statuses: [400],
  },
  {
    name: "NUL in an agent name",
    method: "POST",
    path: () => "/v1/agents",
    body: '{"name":"a\\u0000b","model":"m"}',
    statuses: [400],
  },
  {
    name: "unpaired surrogate in an agent name",
    method: "POST",
    path: () => "/v1/agents",
    body: '{"name":"a\\ud800b","model":"m"}',
    statuses: [400],
  },
  {
    name: "NUL in a user message",
    method: "POST",
    path: () => `/v1/sessions/${fx.scratch[0]}/events`,
    body: '{"events":[{"type":"user.message","content":[{"type":"text","text":"a\\u0000"}]}]}',
    statuses: [400],
  },
  {
    name: "NUL in a metadata key",
    method: "POST",
    path: () => `/v1/sessions/${fx.updatable[0]}`,
    body: '{"metadata":{"k\\u0000":"v"}}',
    statuses: [400],
  },
  {
    name: "NUL in a vault name",
    method: "POST",
    path: () => "/v1/vaults",
    body: '{"display_name":"\\u0000"}',
    statuses: [400],
  },
  {
    name: "a header value with a NUL byte",
    method: "GET",
    path: () => "/v1/agents",
    headers: [["X-Bad", Buffer.from([0x00])]],
    statuses: [400],
  },
  {
    name: "headers over the size limit",
    method: "GET",
    path: () => "/v1/agents",
    headers: [["X-Big", "x".repeat(20_000)]],
    statuses: [431],
  },
  { name: "a space in the path", method: "GET", path: () => "/v1/agents/a b", statuses: [400] },
  {
    name: "an id over the router's limit",
    method: "GET",
    path: () => `/v1/agents/${"x".repeat(300)}`,
    statuses: [400, 404],
  },
  { name: "invalid percent-encoding", method: "GET", path: () => "/v1/agents/%E0%A4%A", statuses: [400] },
  {
    name: "an Expect header other than 100-continue",
    method: "GET",
    path: () => "/v1/agents",
    headers: [["Expect", "fuzz"]],
    statuses: [417],
  },
];

// ---- properties ----

describe("gateway fuzz", () => {
  it("regressions: requests that once produced a 5xx or a non-envelope error", async () => {
    const before = wire.requests;
    for (const r of REGRESSIONS) {
      const body = r.body === undefined ? undefined : Buffer.isBuffer(r.body) ? r.body : Buffer.from(r.body);
      const sent = await wire.send(0, {
        method: r.method,
        path: r.path(),
        headers: [...wire.headers({ body: body !== undefined }), ...(r.headers ?? [])],
        ...(body ? { body } : {}),
      });
      try {
        check(wire, sent, { statuses: r.statuses });
      } catch (e) {
        throw new Error(`regression "${r.name}": ${(e as Error).message}`);
      }
    }
    perProperty.push({ name: "regressions", requests: wire.requests - before });
    await assertAlive();
  });

  it("write routes: valid and mutated bodies", async () => {
    interface Route {
      name: string;
      body: fc.Arbitrary<Json>;
      schema: Schema;
      response: Schema;
      /** A session route: invalid bodies go to a witness, valid ones to this session. */
      sessionPath?: (sessionId: string) => string;
      validSessions?: () => string[];
      path?: () => string;
    }
    const routes: Route[] = [
      {
        name: "agents.create",
        body: agentCreate(fx),
        schema: AgentCreateParams,
        response: Agent,
        path: () => "/v1/agents",
      },
      {
        name: "agents.update",
        body: agentUpdate(fx),
        schema: AgentUpdateParams,
        response: Agent,
        path: () => `/v1/agents/${fx.agentTarget}`,
      },
      {
        name: "environments.create",
        body: environmentCreate,
        schema: EnvironmentCreateParams,
        response: Environment,
        path: () => "/v1/environments",
      },
      {
        name: "environments.update",
        body: environmentUpdate,
        schema: EnvironmentUpdateParams,
        response: Environment,
        path: () => `/v1/environments/${fx.envTarget}`,
      },
      {
        name: "environments.keys",
        body: environmentKeyCreate,
        schema: EnvironmentKeyCreateParams,
        response: EnvironmentKey,
        path: () => `/v1/environments/${fx.envTarget}/keys`,
      },
      {
        name: "sessions.create",
        body: sessionCreate(fx),
        schema: SessionCreateParams,
        response: Session,
        path: () => "/v1/sessions",
      },
      {
        name: "sessions.update",
        body: sessionUpdate,
        schema: SessionUpdateParams,
        response: Session,
        sessionPath: (id) => `/v1/sessions/${id}`,
        validSessions: () => fx.updatable,
      },
      {
        name: "sessions.resources.add",
        body: resourceAdd,
        schema: ResourceAddParams,
        response: SessionResource,
        sessionPath: (id) => `/v1/sessions/${id}/resources`,
        validSessions: () => fx.updatable,
      },
      {
        name: "sessions.resources.update",
        body: resourceUpdate,
        schema: ResourceUpdateParams,
        response: SessionResource,
        path: () => `/v1/sessions/${fx.repoSession}/resources/${fx.repoResource}`,
      },
      {
        name: "vaults.create",
        body: vaultCreate,
        schema: VaultCreateParams,
        response: Vault,
        path: () => "/v1/vaults",
      },
      {
        name: "vaults.update",
        body: vaultUpdate,
        schema: VaultUpdateParams,
        response: Vault,
        path: () => `/v1/vaults/${fx.vault}`,
      },
      {
        name: "credentials.create",
        body: credentialCreate,
        schema: CredentialCreateParams,
        response: Credential,
        path: () => `/v1/vaults/${fx.vault}/credentials`,
      },
      {
        name: "credentials.update",
        body: credentialUpdate,
        schema: CredentialUpdateParams,
        response: Credential,
        path: () => `/v1/vaults/${fx.vault}/credentials/${fx.credential}`,
      },
      {
        name: "events.send",
        body: refusedEventBatch,
        schema: SendEventsParams,
        response: SessionLog.eventsSend.response,
        sessionPath: (id) => `/v1/sessions/${id}/events`,
        validSessions: () => fx.scratch,
      },
    ];
    const one = fc
      .record({
        route: fc.constantFrom(...routes),
        pick: fc.nat(),
        gw: fc.nat(),
        bearer: fc.boolean(),
        seed: fc.nat(),
      })
      .chain((r) => mutated(r.route.body).map((m) => ({ ...r, ...m })));

    await runProperty("write", batchOf(one), async (batch) => {
      await sendAll(
        batch.map((r) => {
          const text = render(r.body);
          const valid = accepts(r.route.schema, text);
          let path: string;
          let exp: Expect = { schema: r.route.response };
          if (r.route.sessionPath) {
            if (valid)
              path = r.route.sessionPath(r.route.validSessions!()[r.pick % r.route.validSessions!().length]!);
            else {
              path = r.route.sessionPath(witness(r.pick).id);
              exp = { statuses: [400, 413] };
            }
          } else path = r.route.path!();
          if (!valid) exp = { ...exp, statuses: [400, 413] };
          const body = Buffer.from(text, "utf8");
          return {
            send: () =>
              wire.send(r.gw, {
                method: "POST",
                path,
                headers: wire.headers({ body: true, bearer: r.bearer }),
                body,
              }),
            expect: exp,
          };
        }),
      );
    });
    await assertWitnessesUnchanged();
  });

  it("event sequences: valid and invalid mixes, answers to nothing, interrupts at odd times", async () => {
    const one = fc
      .record({
        toWitness: fc.boolean(),
        pick: fc.nat(),
        gw: fc.nat(),
        idem: fc.boolean(),
      })
      .chain((r) =>
        fc.oneof(mutated(eventBatch, 2), mutated(refusedEventBatch, 1)).map((m) => ({ ...r, ...m })),
      );
    let nonce = 0;
    await runProperty("events", batchOf(one), async (batch) => {
      await sendAll(
        batch.map((r) => {
          const text = render(r.body);
          const bytes = Buffer.from(text, "utf8");
          const parsed = tryParse(text);
          const events = parsed.ok ? SendEventsParams.safeParse(parsed.value) : undefined;
          let path: string;
          let exp: Expect;
          let after: ((v: unknown) => void) | undefined;
          if (!events?.success) {
            path = `/v1/sessions/${witness(r.pick).id}/events`;
            exp = { statuses: [400, 413] };
          } else {
            const input = events.data.events;
            const w = witness(r.pick);
            if (r.toWitness && predictEvents(input, w.kind) === "refused") {
              path = `/v1/sessions/${w.id}/events`;
              exp = { statuses: [400, 409, 413] };
            } else {
              path = `/v1/sessions/${fx.scratch[r.pick % fx.scratch.length]}/events`;
              const big = bytes.length > HUGE ? [413] : [];
              if (predictEvents(input, "idle") === "refused") exp = { statuses: [400, ...big] };
              else {
                exp = {
                  statuses: [200, ...big, ...(storable(parsed.ok ? parsed.value : null) ? [] : [400])],
                  schema: SessionLog.eventsSend.response,
                };
                // What was appended is what was sent, with an id and processed_at added.
                const sentEvents = (parsed as { value: { events: Array<Record<string, unknown>> } }).value
                  .events;
                after = (v) => {
                  const data = (v as { data?: Array<Record<string, unknown>> } | undefined)?.data;
                  if (!data) return;
                  expect(data.length).toBe(sentEvents.length);
                  data.forEach((e, i) => {
                    const { id, processed_at, ...payload } = e;
                    expect(String(id)).toMatch(/^sevt_/);
                    expect(typeof processed_at).toBe("string");
                    if (!isDeepStrictEqual(payload, input[i])) {
                      expect(payload, `event ${i} as stored vs as sent to ${path}`).toEqual(input[i]);
                    }
                  });
                };
              }
            }
          }
          const headers = wire.headers({ body: true });
          if (r.idem) headers.push(["Idempotency-Key", `fuzz-${process.pid}-${nonce++}`]);
          return {
            send: () => wire.send(r.gw, { method: "POST", path, headers, body: bytes }),
            expect: exp,
            ...(after ? { after } : {}),
          };
        }),
      );
    });
    await assertWitnessesUnchanged();
  });

  it("headers: auth missing or garbled, anthropic-version/-beta junk, content-types, odd headers", async () => {
    type Auth = { headers: Array<[string, string | Buffer]>; valid: boolean };
    const key = () => wire.apiKey;
    const auth: fc.Arbitrary<() => Auth> = fc.oneof(
      fc.constant(() => ({ headers: [["x-api-key", key()]], valid: true }) as Auth),
      fc.constant(() => ({ headers: [["Authorization", `Bearer ${key()}`]], valid: true }) as Auth),
      fc.constant(() => ({ headers: [["Authorization", `bearer   ${key()}  `]], valid: true }) as Auth),
      fc.constant(() => ({ headers: [["x-api-key", `  ${key()}\t`]], valid: true }) as Auth),
      fc.constant(() => ({ headers: [], valid: false }) as Auth),
      fc.constant(() => ({ headers: [["Authorization", "Bearer "]], valid: false }) as Auth),
      fc.constant(() => ({ headers: [["Authorization", `Basic ${key()}`]], valid: false }) as Auth),
      fc.constant(() => ({ headers: [["x-api-key", key().slice(0, -1)]], valid: false }) as Auth),
      fc.constant(() => ({ headers: [["x-api-key", `${key()}x`]], valid: false }) as Auth),
      fc.constant(() => ({ headers: [["x-api-key", key().toUpperCase()]], valid: false }) as Auth),
      fc.constant(() => ({ headers: [["x-api-key", "k".repeat(600)]], valid: false }) as Auth),
      fc.constant(
        () => ({ headers: [["x-api-key", Buffer.from([0xff, 0xfe, 0x80, 0x41])]], valid: false }) as Auth,
      ),
      fc.constant(
        () =>
          ({
            headers: [
              ["x-api-key", "garbage"],
              ["Authorization", `Bearer ${key()}`],
            ],
            valid: false,
          }) as Auth,
      ),
      fc.constant(
        () =>
          ({
            headers: [
              ["x-api-key", key()],
              ["x-api-key", key()],
            ],
            valid: false,
          }) as Auth,
      ),
      fc
        .string({ unit: "grapheme-ascii", minLength: 1, maxLength: 80 })
        .map((s) => () => ({ headers: [["x-api-key", s]], valid: false }) as Auth),
      fc
        .string({ unit: "grapheme-ascii", minLength: 1, maxLength: 80 })
        .map((s) => () => ({ headers: [["Authorization", `Bearer ${s}`]], valid: false }) as Auth),
    );
    const headerValue = fc.oneof(
      fc.string({ unit: "grapheme-ascii", maxLength: 60 }),
      fc.constantFrom("", "2023-06-01", "2026-10-21", "managed-agents-2026-04-01", "x".repeat(4000)),
      fc.uint8Array({ minLength: 1, maxLength: 20 }).map((a) => Buffer.from(a)),
    );
    const contentType = fc.constantFrom(
      "application/json",
      "application/json; charset=utf-8",
      "APPLICATION/JSON",
      "application/vnd.api+json",
      "application/jsonx",
      "text/plain",
      "application/x-www-form-urlencoded",
      "multipart/form-data; boundary=x",
      "",
      "*/*",
      "json",
    );
    const route = fc.constantFrom("list", "retrieve", "vault", "events", "health");
    const one = fc.record({
      auth,
      version: fc.option(headerValue, { nil: undefined }),
      beta: fc.option(headerValue, { nil: undefined }),
      ct: fc.option(contentType, { nil: undefined }),
      extra: fc.array(
        fc.tuple(
          fc.oneof(
            fc.constantFrom(
              "X-Fuzz",
              "Accept",
              "Accept-Encoding",
              "User-Agent",
              "Idempotency-Key",
              "Anthropic-Workspace-Id",
              "Expect",
              "Upgrade",
              "Cookie",
              "X-Forwarded-For",
              "Origin",
              "Range",
              "If-None-Match",
            ),
            fc.stringMatching(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,20}$/),
          ),
          headerValue,
        ),
        { maxLength: 3 },
      ),
      route,
      pick: fc.nat(),
      gw: fc.nat(),
      vault: vaultCreate,
    });
    const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
    const malformed = (k: string, v: string | Buffer) => {
      const b = typeof v === "string" ? Buffer.from(v, "utf8") : v;
      return !TOKEN.test(k) || b.some((c) => (c < 0x20 && c !== 0x09) || c === 0x7f);
    };
    await runProperty("headers", batchOf(one), async (batch) => {
      await sendAll(
        batch.map((r) => {
          const a = r.auth();
          const headers: Array<[string, string | Buffer]> = [...a.headers];
          if (r.version !== undefined) headers.push(["anthropic-version", r.version]);
          if (r.beta !== undefined) headers.push(["anthropic-beta", r.beta]);
          // Framing headers are the raw-framing property's business.
          const extra = r.extra.filter(
            ([k]) => !/^(content-length|transfer-encoding|host|connection)$/i.test(k),
          );
          headers.push(...extra);
          const bad = headers.some(([k, v]) => malformed(k, v));
          // CR/LF in a value splits it into more header lines (or ends the head early): anything goes.
          const split = headers.some(([, v]) =>
            (typeof v === "string" ? Buffer.from(v) : v).some((c) => c === 0x0a || c === 0x0d),
          );
          const expectHeader = extra.find(([k]) => k.toLowerCase() === "expect");
          const oddExpect =
            expectHeader !== undefined && String(expectHeader[1]).toLowerCase() !== "100-continue";
          let path = "";
          let method = "GET";
          let body: Buffer | undefined;
          let schema: Schema | undefined;
          let statuses: number[] | undefined;
          switch (r.route) {
            case "list":
              path = "/v1/agents?limit=1";
              break;
            case "retrieve":
              path = `/v1/sessions/${witness(r.pick).id}`;
              schema = Session;
              break;
            case "vault":
              method = "POST";
              path = "/v1/vaults";
              body = Buffer.from(render(r.vault));
              schema = Vault;
              break;
            case "events":
              method = "POST";
              path = `/v1/sessions/${witness(r.pick).id}/events`;
              body = Buffer.from(
                '{"events":[{"type":"system.message","content":[{"type":"text","text":"never appended"}]}]}',
              );
              statuses = [400, 409];
              break;
            case "health":
              path = "/healthz";
              break;
          }
          if (body && r.ct !== undefined) headers.push(["Content-Type", r.ct]);
          if (r.route === "health") statuses = [200];
          else if (!a.valid) statuses = [401];
          else if (body && r.ct && !/^application\/(json|[\w.+-]+\+json)\b/i.test(r.ct)) statuses = [400];
          // A malformed header is refused by the HTTP parser before any route runs; an Expect other
          // than 100-continue before the route too.
          if (bad) statuses = [400];
          else if (oddExpect) statuses = [417];
          if (split) statuses = undefined;
          return {
            send: () => wire.send(r.gw, { method, path, headers, ...(body ? { body } : {}) }),
            expect: { schema, statuses },
          };
        }),
      );
    });
    await assertWitnessesUnchanged();
  });

  it("query strings on list routes: junk limits, pages, orders, filters, encodings", async () => {
    const lists = (): Array<{ path: string; keys: string[] }> => {
      const w = fx.witnesses[1]!.id;
      return [
        {
          path: "/v1/agents",
          keys: ["created_at[gte]", "created_at[lte]", "include_archived", "limit", "page"],
        },
        { path: "/v1/environments", keys: ["include_archived", "limit", "page"] },
        {
          path: "/v1/sessions",
          keys: [
            "agent_id",
            "agent_version",
            "environment_id",
            "created_at[gt]",
            "created_at[gte]",
            "created_at[lt]",
            "created_at[lte]",
            "deployment_id",
            "memory_store_id",
            "include_archived",
            "order",
            "statuses",
            "statuses[]",
            "limit",
            "page",
          ],
        },
        { path: "/v1/vaults", keys: ["include_archived", "limit", "page"] },
        {
          path: `/v1/sessions/${w}/events`,
          keys: ["limit", "page", "order", "types", "types[]", "created_at[gt]", "created_at[lte]"],
        },
        { path: `/v1/agents/${fx.agentOk}/versions`, keys: ["limit", "page"] },
        { path: `/v1/agents/${fx.agentOk}`, keys: ["version"] },
        { path: `/v1/sessions/${fx.repoSession}/resources`, keys: ["limit", "page"] },
        { path: `/v1/vaults/${fx.vault}/credentials`, keys: ["include_archived", "limit", "page"] },
        { path: `/v1/sessions/${w}/egress`, keys: ["limit", "page"] },
        { path: `/v1/environments/${fx.envMain}/work`, keys: ["limit", "page"] },
        { path: `/v1/sessions/${w}/events/stream`, keys: ["event_deltas", "event_deltas[]"] },
      ];
    };
    const cursorJunk = fc
      .record({
        o: fc.oneof(fc.constantFrom<Json>("asc", "desc"), edgeString),
        d: fc.option(fc.oneof(fc.constantFrom<Json>("n", "p"), edgeString), { nil: undefined }),
        k: fc.oneof(
          fc.array(
            fc.oneof(
              edgeString as fc.Arbitrary<Json>,
              fc.integer() as fc.Arbitrary<Json>,
              fc.double() as fc.Arbitrary<Json>,
              fc.constantFrom<Json>(
                raw("1e999"),
                raw("-0"),
                raw("123456789012345678901234567890"),
                {},
                [],
                null,
                true,
              ),
              fc.date({ noInvalidDate: true }).map((d) => d.toISOString() as Json),
              randomId("sesn_") as fc.Arbitrary<Json>,
            ),
            { maxLength: 4 },
          ),
          edgeString as fc.Arbitrary<Json>,
        ),
      })
      .map((c) => {
        const o: Array<[string, Json]> = [
          ["o", c.o],
          ["k", c.k],
        ];
        if (c.d !== undefined) o.push(["d", c.d]);
        return Buffer.from(render(Object.fromEntries(o) as Json)).toString("base64url");
      });
    const realCursor = fc
      .tuple(fc.nat(), fc.constantFrom("as-is", "truncate", "flip", "pad", "std-base64"), fc.nat())
      .map(([i, how, n]) => {
        const c = fx.cursors[i % Math.max(1, fx.cursors.length)] ?? "";
        switch (how) {
          case "truncate":
            return c.slice(0, n % (c.length + 1));
          case "flip": {
            const at = n % Math.max(1, c.length);
            return `${c.slice(0, at)}${c[at] === "A" ? "B" : "A"}${c.slice(at + 1)}`;
          }
          case "pad":
            return `${c}==`;
          case "std-base64":
            return Buffer.from(Buffer.from(c, "base64url").toString("utf8")).toString("base64");
          default:
            return c;
        }
      });
    const value = fc.oneof(
      fc.constantFrom(
        "",
        "0",
        "1",
        "-1",
        "3",
        "100",
        "101",
        "1000",
        "1001",
        "1e400",
        "NaN",
        "Infinity",
        "0x10",
        "1.5",
        " 5",
        "true",
        "false",
        "TRUE",
        "asc",
        "desc",
        "ASC",
        "idle",
        "running",
        "terminated",
        "agent.message",
        "user.message",
        "2024-01-01T00:00:00Z",
        "2024-01-01T00:00:00+14:00",
        "2024-02-30T00:00:00Z",
        "0000-01-01T00:00:00Z",
        "9999-12-31T23:59:59Z",
        "1970-01-01T00:00:00.000000001Z",
        "-271821-04-20T00:00:00Z",
        "agent_",
        "sesn_x",
      ),
      edgeString,
      unicodeString,
      cursorJunk,
      realCursor,
      fc.integer({ min: 2049, max: 5000 }).map((n) => "p".repeat(n)),
    );
    const pair = fc.record({
      key: fc.oneof({ weight: 4, arbitrary: fc.nat() }, { weight: 1, arbitrary: edgeString }),
      value,
      enc: fc.constantFrom("std", "std", "std", "raw", "double", "array", "bare"),
    });
    const one = fc.record({
      list: fc.nat(),
      pairs: fc.array(pair, { maxLength: 5 }),
      sep: fc.constantFrom("&", "&", "&&", ";", "&amp;"),
      tail: fc.constantFrom("", "", "&", "=", "%", "%zz", "?x=1", "#frag"),
      gw: fc.nat(),
      head: fc.boolean(),
    });
    const safeEncode = (s: string) => encodeURIComponent(toWellFormed(s));
    await runProperty("queries", batchOf(one), async (batch) => {
      const all = lists();
      await sendAll(
        batch.map((r) => {
          const list = all[r.list % all.length]!;
          const stream = list.path.endsWith("/stream");
          const parts = r.pairs.map((p) => {
            const k =
              typeof p.key === "number"
                ? (list.keys[p.key % Math.max(1, list.keys.length)] ?? "limit")
                : p.key;
            switch (p.enc) {
              case "raw":
                return `${k}=${p.value}`;
              case "double":
                return `${safeEncode(safeEncode(k))}=${safeEncode(safeEncode(p.value))}`;
              case "array":
                return `${safeEncode(k)}[]=${safeEncode(p.value)}`;
              case "bare":
                return safeEncode(k);
              default:
                return `${safeEncode(k)}=${safeEncode(p.value)}`;
            }
          });
          const qs = parts.join(r.sep) + r.tail;
          const path = `${list.path}${qs ? `?${qs}` : ""}`;
          const method = r.head && !stream ? "HEAD" : "GET";
          const listRoute = !/\/v1\/agents\/agent_[^/]+$/.test(list.path) && !stream;
          return {
            send: () => wire.send(r.gw, { method, path, headers: wire.headers() }),
            expect: { head: method === "HEAD", stream },
            after: (v: unknown) => {
              if (listRoute && method === "GET" && v && !(v as { type?: string }).type) {
                expect(isPage(v), `a page from ${path}`).toBe(true);
              }
            },
          };
        }),
      );
    });
    await assertWitnessesUnchanged();
  });

  it("paths: malformed ids, traversal, encoded slashes, long ids, wrong prefixes, odd methods", async () => {
    const templates: Array<[string, string]> = [
      ["GET", "/v1/agents/:id"],
      ["POST", "/v1/agents/:id"],
      ["POST", "/v1/agents/:id/archive"],
      ["GET", "/v1/agents/:id/versions"],
      ["GET", "/v1/environments/:id"],
      ["POST", "/v1/environments/:id"],
      ["DELETE", "/v1/environments/:id"],
      ["POST", "/v1/environments/:id/archive"],
      ["POST", "/v1/environments/:id/keys"],
      ["GET", "/v1/environments/:id/work"],
      ["GET", "/v1/environments/:id/work/stats"],
      ["GET", "/v1/environments/:id/work/:id"],
      ["POST", "/v1/environments/:id/work/:id"],
      ["POST", "/v1/environments/:id/work/:id/ack"],
      ["POST", "/v1/environments/:id/work/:id/heartbeat"],
      ["POST", "/v1/environments/:id/work/:id/stop"],
      ["GET", "/v1/sessions/:id"],
      ["POST", "/v1/sessions/:id"],
      ["DELETE", "/v1/sessions/:id"],
      ["POST", "/v1/sessions/:id/archive"],
      ["GET", "/v1/sessions/:id/events"],
      ["POST", "/v1/sessions/:id/events"],
      ["GET", "/v1/sessions/:id/events/stream"],
      ["GET", "/v1/sessions/:id/resources"],
      ["POST", "/v1/sessions/:id/resources"],
      ["GET", "/v1/sessions/:id/resources/:id"],
      ["POST", "/v1/sessions/:id/resources/:id"],
      ["DELETE", "/v1/sessions/:id/resources/:id"],
      ["GET", "/v1/sessions/:id/egress"],
      ["GET", "/v1/vaults/:id"],
      ["POST", "/v1/vaults/:id"],
      ["DELETE", "/v1/vaults/:id"],
      ["POST", "/v1/vaults/:id/archive"],
      ["GET", "/v1/vaults/:id/credentials"],
      ["POST", "/v1/vaults/:id/credentials"],
      ["GET", "/v1/vaults/:id/credentials/:id"],
      ["POST", "/v1/vaults/:id/credentials/:id"],
      ["DELETE", "/v1/vaults/:id/credentials/:id"],
      ["POST", "/v1/vaults/:id/credentials/:id/archive"],
      ["POST", "/v1/vaults/:id/credentials/:id/mcp_oauth_validate"],
    ];
    const prefixes = [
      "agent_",
      "env_",
      "sesn_",
      "sesrsc_",
      "sevt_",
      "work_",
      "vlt_",
      "vcrd_",
      "req_",
      "key_",
      "x_",
      "",
    ];
    const junkId = fc.oneof(
      fc.constantFrom(
        "..",
        ".",
        "%2e%2e",
        "%2E%2E%2F%2E%2E",
        "..%2f..%2fetc%2fpasswd",
        "..%5c..%5cwindows",
        "%2F",
        "a%2Fb",
        "%00",
        "sesn_%00",
        "%ff",
        "%",
        "%zz",
        "%c0%ae%c0%ae",
        "%ED%A0%80",
        "%C0%80",
        "%E2%80%AE",
        "%F0%9F%92%A9",
        "~",
        "*",
        "%27%20OR%201%3D1--",
        "%3Cscript%3E",
        ";",
        "a;b=c",
        "%3F",
        "%23",
        "%20",
        "",
        "null",
        "undefined",
        "0",
        "-1",
      ),
      fc
        .tuple(fc.constantFrom(...prefixes), fc.string({ unit: "grapheme-ascii", maxLength: 30 }))
        .map(([p, s]) => `${p}${encodeURIComponent(s)}`),
      fc
        .tuple(fc.constantFrom(...prefixes), fc.constantFrom(120, 128, 129, 250, 256, 257, 1000, 8000))
        .map(([p, n]) => `${p}${"x".repeat(n)}`),
      fc.string({ unit: "binary", maxLength: 20 }).map((s) => encodeURIComponent(toWellFormed(s))),
      // Unencoded: spaces, '?', '#', '/', non-ASCII as raw UTF-8 on the wire.
      fc.string({ unit: "grapheme", maxLength: 12 }),
    );
    /** Ids derived from a real one: only ever read (GET/HEAD), since some resolve to it. */
    const derived = fc
      .tuple(
        fc.nat(),
        fc.constantFrom("upper", "suffix", "slash", "enc-slash", "dotdot", "trunc", "pct", "dup"),
      )
      .map(([i, how]) => () => {
        const real = [fx.witnesses[i % fx.witnesses.length]!.id, fx.agentOk, fx.vault, fx.envMain][i % 4]!;
        switch (how) {
          case "upper":
            return real.toUpperCase();
          case "suffix":
            return `${real}x`;
          case "slash":
            return `${real}/`;
          case "enc-slash":
            return `${real}%2F`;
          case "dotdot":
            return `${real}/..`;
          case "trunc":
            return real.slice(0, -1);
          case "pct":
            return [...real].map((c) => `%${c.charCodeAt(0).toString(16).padStart(2, "0")}`).join("");
          default:
            return `${real}/${real}`;
        }
      });
    const method = fc.oneof(
      { weight: 8, arbitrary: fc.constant<string | undefined>(undefined) },
      {
        weight: 1,
        arbitrary: fc.constantFrom<string | undefined>(
          "PUT",
          "PATCH",
          "HEAD",
          "OPTIONS",
          "TRACE",
          "FOO",
          "get",
          "CONNECT",
        ),
      },
    );
    const one = fc.record({
      template: fc.constantFrom(...templates),
      ids: fc.array(
        fc.oneof(
          { weight: 3, arbitrary: junkId.map((j) => ({ id: () => j, derived: false })) },
          { weight: 1, arbitrary: derived.map((f) => ({ id: f, derived: true })) },
        ),
        { minLength: 2, maxLength: 2 },
      ),
      method,
      gw: fc.nat(),
      body: fc.constantFrom(
        "",
        "{}",
        '{"events":[{"type":"system.message","content":[{"type":"text","text":"x"}]}]}',
      ),
    });
    await runProperty("paths", batchOf(one), async (batch) => {
      await sendAll(
        batch.map((r) => {
          let n = 0;
          const used = r.ids.slice(0, (r.template[1].match(/:id/g) ?? []).length);
          const path = r.template[1].replace(/:id/g, () => r.ids[n++]!.id());
          const isDerived = used.some((x) => x.derived);
          // A derived id may name a real resource: only read it.
          let m = r.method ?? r.template[0];
          if (isDerived && m !== "GET" && m !== "HEAD") m = "GET";
          const body = m === "POST" ? Buffer.from(r.body) : undefined;
          const readOnly = m === "GET" || m === "HEAD";
          return {
            send: () =>
              wire.send(r.gw, {
                method: m,
                path,
                headers: wire.headers({ body: body !== undefined }),
                ...(body ? { body } : {}),
              }),
            expect: {
              head: m === "HEAD",
              stream: r.template[1].endsWith("/stream"),
              // CONNECT (no tunnel handler) may just be closed.
              mayClose: m === "CONNECT",
              // Junk ids never name a resource: nothing but a read may succeed.
              ...(readOnly ? {} : { statuses: [400, 401, 403, 404, 409, 413] }),
            },
          };
        }),
      );
    });
    await assertWitnessesUnchanged();
  });

  it("framing: invalid UTF-8, truncated JSON, empty bodies, wrong content-types, Content-Length lies, chunking", async () => {
    const bases = (): Array<{ path: string; body: Json; witness: boolean }> => [
      { path: "/v1/agents", body: { name: "framing", model: OK_MODEL }, witness: false },
      { path: "/v1/vaults", body: { display_name: "framing" }, witness: false },
      { path: "/v1/environments", body: { name: "framing" }, witness: false },
      ...fx.witnesses.map((w) => ({
        path: `/v1/sessions/${w.id}/events`,
        body: {
          events: [
            { type: "user.message", content: [{ type: "text", text: "héllo wörld" }] },
            { type: "system.message", content: [{ type: "text", text: "never appended" }] },
          ],
        } as Json,
        witness: true,
      })),
    ];
    const invalidUtf8 = fc.constantFrom(
      [0xff],
      [0xfe, 0xff],
      [0xc0, 0x80],
      [0xc3],
      [0xe2, 0x82],
      [0xed, 0xa0, 0x80],
      [0xf4, 0x90, 0x80, 0x80],
      [0xf8, 0x88, 0x80, 0x80, 0x80],
      [0x80, 0x80, 0x80],
      [0x00],
    );
    const literal = fc.constantFrom(
      "null",
      "[]",
      '"x"',
      "1",
      "{}",
      " ",
      "\r\n",
      "\ufeff{}",
      '{"a":1,}',
      "{/*c*/}",
      "{'a':1}",
      "NaN",
      '{"a":1}{"b":2}',
      "\u0000",
      `${"[".repeat(100_000)}${"]".repeat(100_000)}`,
      `${'{"a":'.repeat(50_000)}1${"}".repeat(50_000)}`,
      "[".repeat(200_000),
      '{"events":',
    );
    type Frame =
      | { kind: "utf8"; at: number; bytes: readonly number[] }
      | { kind: "truncate"; at: number }
      | { kind: "literal"; text: string }
      | { kind: "ct"; ct: string }
      | { kind: "clShort"; by: number }
      | { kind: "clLong"; by: number; close: "end" | "destroy" }
      | { kind: "clJunk"; value: string }
      | { kind: "chunked"; size: number; ext: boolean }
      | { kind: "chunkedBad"; how: "size" | "unterminated" | "short" }
      | { kind: "teAndCl" };
    const frame: fc.Arbitrary<Frame> = fc.oneof(
      fc.record({ kind: fc.constant("utf8" as const), at: fc.nat(), bytes: invalidUtf8 }),
      fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
      fc.record({ kind: fc.constant("literal" as const), text: literal }),
      fc.record({
        kind: fc.constant("ct" as const),
        ct: fc.constantFrom(
          "text/plain",
          "application/xml",
          "application/x-www-form-urlencoded",
          "multipart/form-data",
          "application/json; charset=utf-16",
        ),
      }),
      fc.record({ kind: fc.constant("clShort" as const), by: fc.integer({ min: 1, max: 40 }) }),
      fc.record({
        kind: fc.constant("clLong" as const),
        by: fc.integer({ min: 1, max: 100_000 }),
        close: fc.constantFrom("end" as const, "destroy" as const),
      }),
      fc.record({
        kind: fc.constant("clJunk" as const),
        value: fc.constantFrom("abc", "-1", "1, 2", "+5", "0x10", "99999999999999999999", ""),
      }),
      fc.record({
        kind: fc.constant("chunked" as const),
        size: fc.integer({ min: 1, max: 64 }),
        ext: fc.boolean(),
      }),
      fc.record({
        kind: fc.constant("chunkedBad" as const),
        how: fc.constantFrom("size" as const, "unterminated" as const, "short" as const),
      }),
      fc.record({ kind: fc.constant("teAndCl" as const) }),
    );
    const one = fc.record({ base: fc.nat(), frame, gw: fc.nat() });
    await runProperty("framing", batchOf(one), async (batch) => {
      const all = bases();
      await sendAll(
        batch.map((r) => {
          const base = all[r.base % all.length]!;
          const valid = Buffer.from(render(base.body), "utf8");
          const f = r.frame;
          const headers = wire.headers({ body: f.kind !== "ct" });
          let body = valid;
          let autoLength = true;
          let mayClose = false;
          let write: ((s: import("node:net").Socket, b: Buffer) => Promise<void>) | undefined;
          switch (f.kind) {
            case "utf8": {
              const at = f.at % (valid.length + 1);
              body = Buffer.concat([valid.subarray(0, at), Buffer.from(f.bytes), valid.subarray(at)]);
              break;
            }
            case "truncate":
              body = valid.subarray(0, f.at % valid.length);
              break;
            case "literal":
              body = Buffer.from(f.text, "utf8");
              break;
            case "ct":
              headers.push(["Content-Type", f.ct]);
              break;
            case "clShort":
              headers.push(["Content-Length", String(Math.max(0, valid.length - f.by))]);
              mayClose = true;
              break;
            case "clLong": {
              headers.push(["Content-Length", String(valid.length + f.by)]);
              mayClose = true;
              write = async (s, bytes) => {
                await writeAsync(s, bytes);
                if (f.close === "end") s.end();
                else s.destroy();
              };
              break;
            }
            case "clJunk":
              headers.push(["Content-Length", f.value]);
              mayClose = true;
              break;
            case "chunked": {
              headers.push(["Transfer-Encoding", "chunked"]);
              autoLength = false;
              const chunks: Buffer[] = [];
              for (let i = 0; i < valid.length; i += f.size) {
                const c = valid.subarray(i, i + f.size);
                chunks.push(
                  Buffer.from(`${c.length.toString(16)}${f.ext ? ";x=y" : ""}\r\n`),
                  c,
                  Buffer.from("\r\n"),
                );
              }
              chunks.push(Buffer.from("0\r\n\r\n"));
              body = Buffer.concat(chunks);
              break;
            }
            case "chunkedBad": {
              headers.push(["Transfer-Encoding", "chunked"]);
              autoLength = false;
              mayClose = true;
              if (f.how === "size")
                body = Buffer.concat([Buffer.from("zz\r\n"), valid, Buffer.from("\r\n0\r\n\r\n")]);
              else if (f.how === "short")
                body = Buffer.concat([Buffer.from(`${(valid.length + 50).toString(16)}\r\n`), valid]);
              else
                body = Buffer.concat([
                  Buffer.from(`${valid.length.toString(16)}\r\n`),
                  valid,
                  Buffer.from("\r\n"),
                ]);
              if (f.how !== "size") {
                write = async (s, bytes) => {
                  await writeAsync(s, bytes);
                  s.end();
                };
              }
              break;
            }
            case "teAndCl":
              headers.push(["Transfer-Encoding", "chunked"], ["Content-Length", String(valid.length)]);
              autoLength = false;
              mayClose = true;
              break;
          }
          const exp: Expect = { mayClose };
          // A witness's body is refused however it is framed: it is never an acceptable batch.
          if (base.witness) exp.statuses = [400, 408, 409, 413];
          return {
            send: () =>
              wire.send(
                r.gw,
                { method: "POST", path: base.path, headers, body, autoLength },
                write ? { write } : {},
              ),
            expect: exp,
          };
        }),
      );
    });
    await assertWitnessesUnchanged();
  });

  it("slow and aborted uploads do not crash the gateway or hold up other requests", async () => {
    const upload = fc.record({
      base: fc.nat(),
      chunk: fc.integer({ min: 1, max: 48 }),
      mode: fc.constantFrom("complete", "complete", "end", "destroy"),
      cut: fc.double({ min: 0, max: 1, noNaN: true }),
      headToo: fc.boolean(),
      gw: fc.nat(),
    });
    const before = wire.requests;
    await fc.assert(
      fc.asyncProperty(
        fc.array(upload, { minLength: 1, maxLength: 6 }),
        fc.nat(),
        async (uploads, gwProbe) => {
          const bodies: Array<{ path: string; body: Json; witness: boolean }> = [
            { path: "/v1/vaults", body: { display_name: "slow" }, witness: false },
            ...fx.witnesses.map((w) => ({
              path: `/v1/sessions/${w.id}/events`,
              body: {
                events: [{ type: "system.message", content: [{ type: "text", text: "slow" }] }],
              } as Json,
              witness: true,
            })),
          ];
          // Every upload writes one chunk per round; between rounds an ordinary request must be served.
          const pacer = new Pacer(uploads.length);
          const pending = uploads.map((u) => {
            const b = bodies[u.base % bodies.length]!;
            const body = Buffer.from(render(b.body));
            const spec = { method: "POST", path: b.path, headers: wire.headers({ body: true }), body };
            return wire
              .send(u.gw, spec, {
                timeoutMs: 120_000,
                write: async (s, bytes) => {
                  try {
                    const headLen = bytes.length - body.length;
                    let at = 0;
                    if (!u.headToo) {
                      await writeAsync(s, bytes.subarray(0, headLen));
                      at = headLen;
                    }
                    const stopAt =
                      u.mode === "complete" ? bytes.length : headLen + Math.floor(body.length * u.cut);
                    while (at < stopAt) {
                      await pacer.next();
                      const next = Math.min(stopAt, at + u.chunk);
                      await writeAsync(s, bytes.subarray(at, next));
                      at = next;
                    }
                    if (u.mode === "end") s.end();
                    else if (u.mode === "destroy") s.destroy();
                  } finally {
                    pacer.done();
                  }
                },
              })
              .then((sent) => ({ sent, witness: b.witness, mode: u.mode }));
          });
          for (let round = 0; ; round++) {
            await pacer.allParked();
            if (pacer.remaining === 0) break;
            const probe = await wire.send(gwProbe + round, {
              method: "GET",
              path: "/v1/agents?limit=1",
              headers: wire.headers(),
            });
            check(wire, probe, { statuses: [200] });
            pacer.release();
          }
          for (const { sent, witness: w, mode } of await Promise.all(pending)) {
            check(wire, sent, {
              mayClose: mode !== "complete",
              ...(w ? { statuses: [400, 408, 409, 413] } : { schema: Vault }),
            });
          }
        },
      ),
      params(0.25),
    );
    perProperty.push({ name: "slow", requests: wire.requests - before });
    await assertAlive();
    await assertWitnessesUnchanged();
  });

  it("after the fuzz: every service is up, witnesses unchanged, no secret in any log", async () => {
    await assertAlive();
    await assertWitnessesUnchanged();
    expect(wire.secrets.size).toBeGreaterThan(0);
    const procs = [
      ...t.stack.gateways,
      ...t.stack.sessionLogs,
      ...t.stack.credentialProxies,
      ...t.stack.harness,
    ];
    for (const p of procs) {
      const out = p.lines().join("\n");
      wire.assertNoSecret(out, `${p.name}'s output`);
    }
    for (const g of t.stack.gateways) {
      const failed = g.lines().filter((l) => /"request failed"|"level":"error"/.test(l));
      expect(failed, `${g.name} logged internal errors`).toEqual([]);
    }
  });
});
