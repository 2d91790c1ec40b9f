/**
 * Wake-ups for one session can reach one worker together (the client's and a sweeper's, or a
 * redelivery): the worker takes the lease once and drives the session once.
 */
import type Anthropic from "@anthropic-ai/sdk";
import { type ManagedProcess, waitFor } from "@tendon/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkLogShape, LogReader, ONE_REPLY_TURN } from "../support/log.js";
import { collect, isEndTurn } from "../support/sse.js";
import { startTestStack, type TestStack } from "../support/stack.js";

let t: TestStack;
let client: Anthropic;
let logs: LogReader;

beforeAll(async () => {
  t = await startTestStack({ harnessWorkers: 1 });
  client = t.client;
  logs = new LogReader(t.databaseUrl);
});
afterAll(async () => {
  await logs?.close();
  await t?.stop();
});

describe("harness wake-ups", () => {
  it("two wake-ups for one session reach one worker at once: one lease, one model call", async () => {
    const model = `mock-wakes-${Math.random().toString(36).slice(2, 8)}`;
    const text = Array.from({ length: 10 }, (_, i) => `w${i}`).join(" ");
    t.mock.script(model, { steps: [{ content: [{ type: "text", text }], latency: { per_token_ms: 50 } }] });
    const agent = await client.beta.agents.create({ name: "wakes", model });
    const env = await client.beta.environments.create({ name: `wakes-${Date.now()}` });
    const session = await client.beta.sessions.create({ agent: agent.id, environment_id: env.id });
    const stream = await collect(client, session.id);
    const bus = await t.bus();

    // Paused, the worker cannot take the first wake-up before the second is queued; resumed, it
    // pulls both while its acquire for the first is in flight.
    const [worker] = t.stack.harness as [ManagedProcess];
    worker.kill("SIGSTOP");
    try {
      await client.beta.sessions.events.send(session.id, {
        events: [{ type: "user.message", content: [{ type: "text", text: "go" }] }],
      });
      await bus.enqueueWake({ v: 1, session_id: session.id, reason: "sweep", cause: "test:second" });
    } finally {
      worker.kill("SIGCONT");
    }
    await stream.until(isEndTurn, 30_000);
    stream.close();

    const lease = await waitFor(async () => {
      const l = await logs.lease(session.id);
      return l.owner === null ? l : undefined;
    });
    expect(lease.epoch).toBe(1);
    expect(t.mock.requests(model)).toHaveLength(1);
    expect(checkLogShape(await logs.events(session.id))).toEqual(ONE_REPLY_TURN);
  });
});
