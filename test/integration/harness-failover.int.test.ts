/**
 * A harness worker can die or stall at any moment: the session completes on another worker with
 * every event exactly once and a gap-free seq, and a stalled worker's late writes are fenced.
 */
import type Anthropic from "@anthropic-ai/sdk";
import { type ManagedProcess, waitFor } from "@tendon/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkLogShape, LogReader, leaseHolder, REPLY_AFTER_TAKEOVER } from "../support/log.js";
import { collect, isEndTurn } from "../support/sse.js";
import { startTestStack, type TestStack } from "../support/stack.js";

let t: TestStack;
let client: Anthropic;
let logs: LogReader;
let environmentId: string;

beforeAll(async () => {
  t = await startTestStack({ harnessWorkers: 2 });
  client = t.client;
  logs = new LogReader(t.databaseUrl);
  environmentId = (await client.beta.environments.create({ name: `failover-${Date.now()}` })).id;
});
afterAll(async () => {
  await logs?.close();
  await t?.stop();
});

const words = (n: number) => Array.from({ length: n }, (_, i) => `word${i}`).join(" ");

async function slowSession(tag: string, text: string) {
  const model = `mock-${tag}-${Math.random().toString(36).slice(2, 8)}`;
  t.mock.script(model, { steps: [{ content: [{ type: "text", text }], latency: { per_token_ms: 100 } }] });
  const agent = await client.beta.agents.create({ name: tag, model });
  const session = await client.beta.sessions.create({ agent: agent.id, environment_id: environmentId });
  return { model, session };
}

async function holder(sessionId: string) {
  const { proc, others, epoch } = await leaseHolder(logs, t.stack.harness, sessionId);
  return { proc, other: others[0] as ManagedProcess, epoch };
}

describe("harness failover", () => {
  it("SIGKILL of the worker holding a session mid-stream: the other finishes it, nothing lost or duplicated", async () => {
    const text = words(40);
    const { model, session } = await slowSession("kill", text);
    const stream = await collect(client, session.id, { event_deltas: ["agent.message"] });
    await client.beta.sessions.events.send(session.id, {
      events: [{ type: "user.message", content: [{ type: "text", text: "go" }] }],
    });
    // Mid-stream: the reply has started arriving.
    await stream.until((_, all) => all.filter((e) => e.type === "event_delta").length >= 3);
    const { proc, other, epoch } = await holder(session.id);
    // A live worker keeps its lease: nobody took over before the fault.
    expect(epoch).toBe(1);
    proc.kill("SIGKILL");
    await proc.exited;

    const got = await stream.until(isEndTurn, 30_000);
    stream.close();
    const persisted = got.filter((e) => e.type !== "event_start" && e.type !== "event_delta") as Array<{
      id: string;
      type: string;
    }>;
    expect(new Set(persisted.map((e) => e.id)).size).toBe(persisted.length);

    const rows = await logs.events(session.id);
    const types = checkLogShape(rows);
    expect(types).toEqual(REPLY_AFTER_TAKEOVER);
    expect(rows[3]?.body).toMatchObject({ is_error: true, model_request_start_id: rows[2]?.id });
    expect(rows[5]?.body).toMatchObject({ content: [{ type: "text", text }] });
    // The stream delivered exactly the log, in order.
    expect(persisted.map((e) => e.id)).toEqual(rows.map((r) => r.id));
    const lease = await logs.lease(session.id);
    expect(lease.owner).toBeNull();
    expect(lease.epoch).toBe(2);
    expect(t.mock.requests(model)).toHaveLength(2);
    expect(other.running()).toBe(true);

    // Replace the dead worker for the next test.
    await t.stack.startService("harness-worker");
    t.stack.harness.splice(t.stack.harness.indexOf(proc), 1);
  });

  it("SIGSTOP past the lease: the other worker takes over; after SIGCONT the late writes are rejected", async () => {
    const text = words(30);
    const { session } = await slowSession("stop", text);
    const stream = await collect(client, session.id, { event_deltas: ["agent.message"] });
    await client.beta.sessions.events.send(session.id, {
      events: [{ type: "user.message", content: [{ type: "text", text: "go" }] }],
    });
    await stream.until((_, all) => all.filter((e) => e.type === "event_delta").length >= 2);
    const { proc, epoch } = await holder(session.id);
    expect(epoch).toBe(1);
    proc.kill("SIGSTOP");
    try {
      await waitFor(async () => (await logs.lease(session.id)).epoch > epoch, {
        timeoutMs: 15_000,
        message: "takeover",
      });
      await stream.until(isEndTurn, 30_000);
      const before = await logs.events(session.id);
      expect(before.filter((r) => r.type === "agent.message")).toHaveLength(1);
    } finally {
      proc.kill("SIGCONT");
    }
    // The paused worker wakes up holding a reply it finished streaming; its write is refused.
    await proc.waitForLine(/fenced: another worker took over/, 20_000);
    const rows = await logs.events(session.id);
    const types = checkLogShape(rows);
    expect(types.filter((x) => x === "agent.message")).toHaveLength(1);
    expect(types.at(-1)).toBe("session.status_idle");
    stream.close();
  });
});
