/**
 * Hands, driven through the SDK: builtin tools in a real bubblewrap sandbox provisioned only when
 * a tool call needs one, a dead sandbox reported to the model and replaced, permission policies,
 * eager environments, and custom tools served by `tendon hand serve`.
 */
import { join } from "node:path";
import type Anthropic from "@anthropic-ai/sdk";
import { REPO_ROOT } from "@tendon/cli";
import { SandboxManager, sandboxHandName } from "@tendon/contracts";
import { spawnProcess, waitFor } from "@tendon/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { collect, isEndTurn } from "../support/sse.js";
import { startTestStack, type TestStack } from "../support/stack.js";

type ToolUse = Anthropic.Beta.Sessions.BetaManagedAgentsAgentToolUseEvent;
type ToolResultEvent = Anthropic.Beta.Sessions.BetaManagedAgentsAgentToolResultEvent;

let t: TestStack;
let client: Anthropic;
let cloudEnv: string;

beforeAll(async () => {
  t = await startTestStack();
  client = t.client;
  cloudEnv = (
    await client.beta.environments.create({ name: `cloud-${Date.now()}`, config: { type: "cloud" } })
  ).id;
});
afterAll(async () => {
  await t?.stop();
});

const uniqueModel = (tag: string) => `mock-${tag}-${Math.random().toString(36).slice(2, 8)}`;
const say = (text: string) => ({ type: "user.message" as const, content: [{ type: "text" as const, text }] });
const toolUse = (name: string, input: Record<string, unknown>) => ({
  content: [{ type: "tool_use" as const, name, input }],
});
const resultText = (r: ToolResultEvent) =>
  (r.content ?? []).map((b) => (b.type === "text" ? b.text : "")).join("");

async function sandboxesOf(sessionId: string) {
  const bus = await t.bus();
  const { data } = await bus.request(SandboxManager.list, {});
  return data.filter((s) => s.session_id === sessionId);
}

async function sessionWith(
  model: string,
  tools: Anthropic.Beta.Agents.AgentCreateParams["tools"],
  env = cloudEnv,
) {
  const agent = await client.beta.agents.create({ name: model, model, tools });
  return client.beta.sessions.create({ agent: agent.id, environment_id: env });
}

describe("builtin tools in a sandbox", () => {
  it("runs bash, write and read in a real bubblewrap sandbox, provisioned on the first call", async () => {
    const model = uniqueModel("cloud");
    t.mock.script(model, {
      steps: [
        toolUse("bash", { command: "echo hello-from-the-sandbox; pwd; id -u" }),
        toolUse("write", { file_path: "notes/plan.md", content: "step one\nstep two\n" }),
        toolUse("read", { file_path: "notes/plan.md" }),
        { content: [{ type: "text", text: "done" }] },
      ],
    });
    const session = await sessionWith(model, [{ type: "agent_toolset_20260401" }]);
    const stream = await collect(client, session.id);
    expect(await sandboxesOf(session.id)).toEqual([]);
    await client.beta.sessions.events.send(session.id, { events: [say("go")] });
    const got = await stream.until(isEndTurn, 60_000);
    stream.close();
    const uses = got.filter((e) => e.type === "agent.tool_use") as ToolUse[];
    const results = got.filter((e) => e.type === "agent.tool_result") as ToolResultEvent[];
    expect(uses.map((u) => [u.name, u.evaluated_permission])).toEqual([
      ["bash", "allow"],
      ["write", "allow"],
      ["read", "allow"],
    ]);
    expect(results.map((r) => r.tool_use_id)).toEqual(uses.map((u) => u.id));
    expect(results.map((r) => r.is_error)).toEqual([false, false, false]);
    expect(resultText(results[0]!)).toContain("hello-from-the-sandbox");
    expect(resultText(results[0]!)).toContain("/workspace");
    expect(resultText(results[2]!)).toContain("step two");
    const boxes = await sandboxesOf(session.id);
    expect(boxes).toHaveLength(1);
    expect(boxes[0]).toMatchObject({ provider: "process", state: "ready" });
  });

  it("a session that never calls a tool never creates a sandbox", async () => {
    const model = uniqueModel("notool");
    t.mock.script(model, { steps: [{ content: [{ type: "text", text: "no tools needed" }] }] });
    const session = await sessionWith(model, [{ type: "agent_toolset_20260401" }]);
    const stream = await collect(client, session.id);
    await client.beta.sessions.events.send(session.id, { events: [say("hi")] });
    await stream.until(isEndTurn);
    stream.close();
    expect(await sandboxesOf(session.id)).toEqual([]);
    const registry = await (await t.bus()).hands();
    expect(await registry.get(sandboxHandName(session.id))).toBeUndefined();
  });

  it("two provision requests for one session at once make one sandbox", async () => {
    const session = await sessionWith(uniqueModel("twice"), [{ type: "agent_toolset_20260401" }]);
    const bus = await t.bus();
    const env = await client.beta.environments.retrieve(cloudEnv);
    const req = {
      session_id: session.id,
      environment: SandboxManager.provision.request.shape.environment.parse(env.config),
    };
    const [a, b] = await Promise.all([
      bus.request(SandboxManager.provision, req),
      bus.request(SandboxManager.provision, req),
    ]);
    expect(b.sandbox_id).toBe(a.sandbox_id);
    expect((await sandboxesOf(session.id)).map((s) => s.sandbox_id)).toEqual([a.sandbox_id]);
  });

  it("a sandbox killed between two calls gives the model an error, and the next call gets a fresh one", async () => {
    const model = uniqueModel("kill");
    t.mock.script(model, {
      steps: [
        toolUse("bash", { command: "echo precious > state.txt && cat state.txt" }),
        toolUse("pause", {}),
        toolUse("bash", { command: "cat state.txt" }),
        toolUse("bash", { command: "echo fresh; ls" }),
        { content: [{ type: "text", text: "recovered" }] },
      ],
    });
    const session = await sessionWith(model, [
      { type: "agent_toolset_20260401" },
      { type: "custom", name: "pause", description: "wait for the user", input_schema: { type: "object" } },
    ]);
    const stream = await collect(client, session.id);
    await client.beta.sessions.events.send(session.id, { events: [say("go")] });
    const paused = await stream.until((e) => e.type === "session.status_idle");
    const [box] = await sandboxesOf(session.id);
    expect(box).toBeDefined();
    // The sandbox dies (its whole process tree), between two tool calls.
    const bus = await t.bus();
    expect(await bus.request(SandboxManager.kill, { session_id: session.id })).toEqual({ killed: true });
    await waitFor(async () => (await sandboxesOf(session.id))[0]?.state === "dead", {
      message: "sandbox seen dead",
    });
    const pause = paused.find((e) => e.type === "agent.custom_tool_use")!;
    await client.beta.sessions.events.send(session.id, {
      events: [
        {
          type: "user.custom_tool_result",
          custom_tool_use_id: pause.id,
          content: [{ type: "text", text: "ok" }],
        },
      ],
    });
    const got = await stream.until(isEndTurn, 60_000);
    stream.close();
    const results = got.filter((e) => e.type === "agent.tool_result") as ToolResultEvent[];
    expect(results).toHaveLength(3);
    expect(results[0]).toMatchObject({ is_error: false });
    expect(results[1]).toMatchObject({ is_error: true });
    expect(resultText(results[1]!)).toMatch(/sandbox .* died/);
    expect(results[2]).toMatchObject({ is_error: false });
    expect(resultText(results[2]!)).toContain("fresh");
    expect(resultText(results[2]!)).not.toContain("state.txt");
    const boxes = await sandboxesOf(session.id);
    expect(boxes).toHaveLength(1);
    expect(boxes[0]!.sandbox_id).not.toBe(box!.sandbox_id);
  });
});

describe("permission policies", () => {
  it("always_ask waits for user.tool_confirmation: allow runs it, deny returns the deny_message", async () => {
    const model = uniqueModel("ask");
    t.mock.script(model, {
      steps: [
        toolUse("bash", { command: "echo allowed-run" }),
        toolUse("bash", { command: "rm -rf /workspace/*" }),
        { content: [{ type: "text", text: "ok" }] },
      ],
    });
    const session = await sessionWith(model, [
      { type: "agent_toolset_20260401", default_config: { permission_policy: { type: "always_ask" } } },
    ]);
    const stream = await collect(client, session.id);
    await client.beta.sessions.events.send(session.id, { events: [say("go")] });
    const first = await stream.until((e) => e.type === "session.status_idle");
    const ask1 = first.find((e) => e.type === "agent.tool_use") as ToolUse;
    expect(ask1).toMatchObject({ evaluated_permission: "ask", evaluation: { type: "always_ask" } });
    expect(first.at(-1)).toMatchObject({ stop_reason: { type: "requires_action", event_ids: [ask1.id] } });
    expect(await sandboxesOf(session.id)).toEqual([]);

    await client.beta.sessions.events.send(session.id, {
      events: [{ type: "user.tool_confirmation", tool_use_id: ask1.id, result: "allow" }],
    });
    const second = await stream.until(
      (_e, all) => all.filter((x) => x.type === "session.status_idle").length === 2,
      60_000,
    );
    const r1 = second.find((e) => e.type === "agent.tool_result") as ToolResultEvent;
    expect(r1).toMatchObject({ tool_use_id: ask1.id, is_error: false });
    expect(resultText(r1)).toContain("allowed-run");
    const ask2 = second.filter((e) => e.type === "agent.tool_use").at(-1) as ToolUse;

    await client.beta.sessions.events.send(session.id, {
      events: [
        {
          type: "user.tool_confirmation",
          tool_use_id: ask2.id,
          result: "deny",
          deny_message: "Never delete the workspace.",
        },
      ],
    });
    const all = await stream.until(isEndTurn, 60_000);
    stream.close();
    const r2 = all.filter((e) => e.type === "agent.tool_result").at(-1) as ToolResultEvent;
    expect(r2).toMatchObject({ tool_use_id: ask2.id, is_error: true });
    expect(resultText(r2)).toBe("Never delete the workspace.");
    const last = t.mock.requests(model).at(-1)?.body as {
      messages: Array<{ content: Array<{ type: string; content?: unknown }> }>;
    };
    expect(last.messages.at(-1)?.content[0]).toMatchObject({ type: "tool_result", is_error: true });
  });
});

describe("eager environments", () => {
  it("provision the sandbox at session creation", async () => {
    const env = await client.beta.environments.create({
      name: `eager-${Date.now()}`,
      config: {
        type: "cloud",
        provisioning: "eager",
      } as unknown as Anthropic.Beta.Environments.BetaCloudConfigParams,
    });
    expect(env.config).toMatchObject({ type: "cloud", provisioning: "eager" });
    const session = await sessionWith(uniqueModel("eager"), [{ type: "agent_toolset_20260401" }], env.id);
    await waitFor(async () => (await sandboxesOf(session.id)).length === 1, {
      message: "eager sandbox",
      timeoutMs: 30_000,
    });
  });
});

describe("hands registered by name", () => {
  it("routes a custom tool to a `tendon hand serve` process instead of idling for the client", async () => {
    const hand = await spawnProcess({
      name: "hand",
      command: process.execPath,
      args: [join(REPO_ROOT, "packages/cli/dist/main.js"), "hand", "serve", "--tool", "lookup=tr a-z A-Z"],
      env: { NATS_URL: t.natsUrl, TENDON_PREFIX: t.prefix },
      ready: /ready: serving hands/,
    });
    try {
      const model = uniqueModel("hand");
      t.mock.script(model, {
        steps: [
          toolUse("lookup", { q: "shout this" }),
          { content: [{ type: "text", text: "the hand answered" }] },
        ],
      });
      const session = await sessionWith(model, [
        {
          type: "custom",
          name: "lookup",
          description: "look it up",
          input_schema: { type: "object", properties: { q: { type: "string" } } },
        },
      ]);
      const stream = await collect(client, session.id);
      await client.beta.sessions.events.send(session.id, { events: [say("go")] });
      const got = await stream.until(isEndTurn, 30_000);
      stream.close();
      const types = got.map((e) => e.type);
      expect(types).toContain("agent.custom_tool_use");
      expect(got.filter((e) => e.type === "session.status_idle")).toHaveLength(1);
      const result = got.find(
        (e) => e.type === "user.custom_tool_result",
      ) as Anthropic.Beta.Sessions.BetaManagedAgentsUserCustomToolResultEvent;
      expect(result.content?.[0]).toMatchObject({ type: "text", text: '{"Q":"SHOUT THIS"}' });
    } finally {
      await hand.stop();
    }
  });
});
