/**
 * Graceful shutdown of a harness worker (a rolling update, a scale-down): on SIGTERM it stops taking
 * wake-ups, finishes the turns it drives within HARNESS_SHUTDOWN_GRACE_MS, hands back the ones it
 * cannot finish (lease released, session re-woken) and exits 0. Another worker finishes those,
 * with nothing lost or duplicated.
 */
import type Anthropic from "@anthropic-ai/sdk";
import type { ManagedProcess } from "@tendon/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  checkLogShape,
  LogReader,
  leaseHolder,
  ONE_REPLY_TURN,
  REPLY_AFTER_TAKEOVER,
  workerIdOf,
} from "../support/log.js";
import { collect, isEndTurn } from "../support/sse.js";
import { startTestStack, type TestStack } from "../support/stack.js";

const GRACE_MS = 4_000;

let t: TestStack;
let client: Anthropic;
let logs: LogReader;
let environmentId: string;

beforeAll(async () => {
  t = await startTestStack({
    harnessWorkers: 2,
    serviceEnv: { "harness-worker": { HARNESS_SHUTDOWN_GRACE_MS: String(GRACE_MS) } },
  });
  client = t.client;
  logs = new LogReader(t.databaseUrl);
  environmentId = (await client.beta.environments.create({ name: `shutdown-${Date.now()}` })).id;
});
afterAll(async () => {
  await logs?.close();
  await t?.stop();
});

const words = (n: number) => Array.from({ length: n }, (_, i) => `word${i}`).join(" ");

/** A session whose reply streams `tokens` words, `perTokenMs` apart; SIGTERM to its holder mid-stream. */
async function terminateMidStream(tag: string, tokens: number, perTokenMs: number) {
  const model = `mock-${tag}-${Math.random().toString(36).slice(2, 8)}`;
  const text = words(tokens);
  t.mock.script(model, {
    steps: [{ content: [{ type: "text", text }], latency: { per_token_ms: perTokenMs } }],
  });
  const agent = await client.beta.agents.create({ name: tag, model });
  const session = await client.beta.sessions.create({ agent: agent.id, environment_id: environmentId });
  const stream = await collect(client, session.id, { event_deltas: ["agent.message"] });
  await client.beta.sessions.events.send(session.id, {
    events: [{ type: "user.message", content: [{ type: "text", text: "go" }] }],
  });
  await stream.until((_, all) => all.some((e) => e.type === "event_delta"));
  const { proc, others } = await leaseHolder(logs, t.stack.harness, session.id);
  const id = workerIdOf(proc);
  proc.kill("SIGTERM");
  const exit = await proc.exited;
  // A worker that handed back released its lease itself, before exiting (one that only died
  // would still hold it until the sweeper noticed).
  const heldAtExit = (await logs.lease(session.id)).owner === id;
  const got = await stream.until(isEndTurn, 30_000);
  stream.close();
  // Replace the stopped worker for what follows.
  t.stack.harness.splice(t.stack.harness.indexOf(proc), 1);
  await t.stack.startService("harness-worker");
  return { model, text, session, exit, heldAtExit, got, others };
}

describe("harness graceful shutdown", () => {
  it("SIGTERM with the turn nearly done: the worker finishes it, then exits 0", async () => {
    const r = await terminateMidStream("finish", 10, 50); // ~0.5 s left, well inside the grace
    expect(r.exit).toEqual({ code: 0, signal: null });
    expect(r.heldAtExit).toBe(false);
    expect(checkLogShape(await logs.events(r.session.id))).toEqual(ONE_REPLY_TURN);
    const lease = await logs.lease(r.session.id);
    expect(lease).toMatchObject({ owner: null, epoch: 1 });
    expect(t.mock.requests(r.model)).toHaveLength(1);
  });

  it("SIGTERM with more turn left than the grace: the worker hands it back, another finishes it", async () => {
    const r = await terminateMidStream("handback", 80, 100); // ~8 s left, past the 4 s grace
    expect(r.exit).toEqual({ code: 0, signal: null });
    expect(r.heldAtExit).toBe(false);
    const rows = await logs.events(r.session.id);
    expect(checkLogShape(rows)).toEqual(REPLY_AFTER_TAKEOVER);
    expect(rows[3]?.body).toMatchObject({ is_error: true, model_request_start_id: rows[2]?.id });
    expect(rows[5]?.body).toMatchObject({ content: [{ type: "text", text: r.text }] });
    const persisted = r.got.filter((e) => e.type !== "event_start" && e.type !== "event_delta");
    expect(persisted.map((e) => (e as { id: string }).id)).toEqual(rows.map((x) => x.id));
    const lease = await logs.lease(r.session.id);
    expect(lease).toMatchObject({ owner: null, epoch: 2 });
    expect(t.mock.requests(r.model)).toHaveLength(2);
    expect(r.others.every((w: ManagedProcess) => w.running())).toBe(true);
  });
});
