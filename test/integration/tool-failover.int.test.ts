/**
 * Crashes around a tool call: a harness worker killed between `agent.tool_use` and its result
 * leaves exactly one result (the new worker attaches to the running call); a hand process killed
 * mid-call leaves an "outcome unknown" error, and the tool is never run twice.
 */
import { readdirSync, readFileSync } from "node:fs";
import type Anthropic from "@anthropic-ai/sdk";
import { type ManagedProcess, waitFor } from "@tendon/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkLogShape, LogReader, workerIdOf } from "../support/log.js";
import { collect, isEndTurn } from "../support/sse.js";
import { startTestStack, type TestStack } from "../support/stack.js";

let t: TestStack;
let client: Anthropic;
let logs: LogReader;
let environmentId: string;

beforeAll(async () => {
  // A short tool deadline so a call whose hand died is retried within the test's patience.
  t = await startTestStack({ harnessWorkers: 2, env: { HARNESS_TOOL_DEADLINE_MS: "4000" } });
  client = t.client;
  logs = new LogReader(t.databaseUrl);
  environmentId = (await client.beta.environments.create({ name: `toolfail-${Date.now()}` })).id;
});
afterAll(async () => {
  await logs?.close();
  await t?.stop();
});

async function session(tag: string, command: string) {
  const model = `mock-${tag}-${Math.random().toString(36).slice(2, 8)}`;
  t.mock.script(model, {
    steps: [
      { content: [{ type: "tool_use", name: "bash", input: { command } }] },
      { content: [{ type: "text", text: "finished" }] },
    ],
  });
  const agent = await client.beta.agents.create({
    name: tag,
    model,
    tools: [{ type: "agent_toolset_20260401" }],
  });
  return client.beta.sessions.create({ agent: agent.id, environment_id: environmentId });
}

async function holder(sessionId: string): Promise<ManagedProcess> {
  const owner = await waitFor(async () => (await logs.lease(sessionId)).owner ?? undefined);
  const p = t.stack.harness.find((h) => workerIdOf(h) === owner);
  if (!p) throw new Error(`no worker ${owner}`);
  return p;
}

describe("tool call failover", () => {
  it("harness SIGKILLed while its tool runs: the survivor attaches, one result in the log", async () => {
    // The command counts its own runs in the workdir, so a second run would show.
    const s = await session("attach", "echo run >> runs.txt; sleep 2; wc -l < runs.txt");
    const stream = await collect(client, s.id);
    await client.beta.sessions.events.send(s.id, {
      events: [{ type: "user.message", content: [{ type: "text", text: "go" }] }],
    });
    await stream.until((e) => e.type === "agent.tool_use");
    const victim = await holder(s.id);
    victim.kill("SIGKILL");
    await victim.exited;
    t.stack.harness.splice(t.stack.harness.indexOf(victim), 1);
    const got = await stream.until(isEndTurn, 30_000);
    stream.close();
    const rows = await logs.events(s.id);
    const types = checkLogShape(rows);
    expect(types.filter((x) => x === "agent.tool_use")).toHaveLength(1);
    expect(types.filter((x) => x === "agent.tool_result")).toHaveLength(1);
    const result = rows.find((r) => r.type === "agent.tool_result")!.body as {
      is_error: boolean;
      content: Array<{ text: string }>;
    };
    expect(result.is_error).toBe(false);
    expect(result.content[0]?.text.trim()).toBe("1");
    expect(got.filter((e) => e.type === "agent.tool_result")).toHaveLength(1);
    await t.stack.startService("harness-worker");
  });

  it("hand (sandbox-manager) SIGKILLed mid-call: outcome unknown, never run twice", async () => {
    const s = await session("unknown", "echo run >> runs.txt; sleep 37.5");
    const stream = await collect(client, s.id);
    await client.beta.sessions.events.send(s.id, {
      events: [{ type: "user.message", content: [{ type: "text", text: "go" }] }],
    });
    await stream.until((e) => e.type === "agent.tool_use");
    const [manager] = t.stack.sandboxManagers as [ManagedProcess];
    // Wait until the command is really running in the sandbox, then kill the hand's process.
    await waitFor(() => processRunning("sleep 37.5"), { timeoutMs: 30_000, message: "tool command running" });
    manager.kill("SIGKILL");
    await manager.exited;
    t.stack.sandboxManagers.splice(0, 1);
    await t.stack.startService("sandbox-manager");
    const got = await stream.until(isEndTurn, 60_000);
    stream.close();
    const results = got.filter(
      (e) => e.type === "agent.tool_result",
    ) as Anthropic.Beta.Sessions.BetaManagedAgentsAgentToolResultEvent[];
    expect(results).toHaveLength(1);
    expect(results[0]).toMatchObject({ is_error: true });
    expect(JSON.stringify(results[0]!.content)).toMatch(/outcome of this tool call is unknown/);
    checkLogShape(await logs.events(s.id));
  });
});

function processRunning(needle: string): boolean {
  return readdirSync("/proc")
    .filter((d) => /^\d+$/.test(d))
    .some((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ").includes(needle);
      } catch {
        return false;
      }
    });
}
