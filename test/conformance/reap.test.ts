/**
 * Idle sandboxes are reaped, and the next tool call provisions a fresh one from the environment's
 * recipe (no error for the model: nothing was lost that it had not been told about).
 */
import type Anthropic from "@anthropic-ai/sdk";
import { SandboxManager } from "@tendon/contracts";
import { waitFor } from "@tendon/testing";
import { afterAll, beforeAll, expect, it } from "vitest";
import { collect, isEndTurn } from "../support/sse.js";
import { startTestStack, type TestStack } from "../support/stack.js";

let t: TestStack;

beforeAll(async () => {
  t = await startTestStack({ serviceEnv: { "sandbox-manager": { TENDON_SANDBOX_IDLE_MS: "1000" } } });
});
afterAll(async () => {
  await t?.stop();
});

it("reaps an idle sandbox and re-provisions on the next call", async () => {
  const client = t.client;
  const model = `mock-reap-${Math.random().toString(36).slice(2, 8)}`;
  const bash = (command: string) => ({
    content: [{ type: "tool_use" as const, name: "bash", input: { command } }],
  });
  t.mock.script(model, {
    steps: [
      bash("echo first"),
      { content: [{ type: "text", text: "one" }] },
      bash("echo second"),
      { content: [{ type: "text", text: "two" }] },
    ],
  });
  const agent = await client.beta.agents.create({
    name: "reap",
    model,
    tools: [{ type: "agent_toolset_20260401" }],
  });
  const env = await client.beta.environments.create({ name: `reap-${Date.now()}` });
  const session = await client.beta.sessions.create({ agent: agent.id, environment_id: env.id });
  const bus = await t.bus();
  const boxes = async () =>
    (await bus.request(SandboxManager.list, {})).data.filter((b) => b.session_id === session.id);
  const stream = await collect(client, session.id);
  await client.beta.sessions.events.send(session.id, {
    events: [{ type: "user.message", content: [{ type: "text", text: "one" }] }],
  });
  await stream.until(isEndTurn, 30_000);
  const [first] = await boxes();
  expect(first).toBeDefined();
  await waitFor(async () => (await boxes()).length === 0, {
    timeoutMs: 15_000,
    message: "idle sandbox reaped",
  });
  await client.beta.sessions.events.send(session.id, {
    events: [{ type: "user.message", content: [{ type: "text", text: "two" }] }],
  });
  const got = await stream.until((_, all) => all.filter(isEndTurn).length === 2, 30_000);
  stream.close();
  const results = got.filter(
    (e) => e.type === "agent.tool_result",
  ) as Anthropic.Beta.Sessions.BetaManagedAgentsAgentToolResultEvent[];
  expect(results.map((r) => r.is_error)).toEqual([false, false]);
  const [second] = await boxes();
  expect(second?.sandbox_id).toBeDefined();
  expect(second?.sandbox_id).not.toBe(first!.sandbox_id);
});
