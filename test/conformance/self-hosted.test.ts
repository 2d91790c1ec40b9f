/**
 * Self-hosted environments (spec §3.3, §5, tier 1b): the SDK's unmodified EnvironmentWorker
 * polls Tendon's work queue, attaches to the session and serves its bash/write/edit/read calls.
 * Plus the work-queue endpoints' exact semantics, driven over HTTP.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type Anthropic from "@anthropic-ai/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { collect, isEndTurn } from "../support/sse.js";
import { startTestStack, type TestStack } from "../support/stack.js";

let t: TestStack;
let client: Anthropic;

beforeAll(async () => {
  t = await startTestStack();
  client = t.client;
});
afterAll(async () => {
  await t?.stop();
});

async function selfHostedEnv(): Promise<{ id: string; key: string }> {
  const env = await client.beta.environments.create({
    name: `sh-${Math.random().toString(36).slice(2, 8)}`,
    config: { type: "self_hosted" },
  });
  const res = await fetch(`${t.stack.url}/v1/environments/${env.id}/keys`, {
    method: "POST",
    headers: { authorization: `Bearer ${t.apiKey}`, "content-type": "application/json" },
    body: JSON.stringify({ name: "worker" }),
  });
  expect(res.status).toBe(200);
  const key = (await res.json()) as { key: string; type: string };
  expect(key.type).toBe("environment_key");
  return { id: env.id, key: key.key };
}

describe("EnvironmentWorker", () => {
  it("serves a session's bash, write, edit and read calls end to end", async () => {
    const env = await selfHostedEnv();
    const model = `mock-sh-${Math.random().toString(36).slice(2, 8)}`;
    t.mock.script(model, {
      steps: [
        {
          content: [
            {
              type: "tool_use",
              name: "bash",
              input: { command: "echo hello-from-worker > greeting.txt && cat greeting.txt" },
            },
          ],
        },
        {
          content: [
            {
              type: "tool_use",
              name: "write",
              input: { file_path: "notes.md", content: "# notes\nline two\n" },
            },
          ],
        },
        {
          content: [
            {
              type: "tool_use",
              name: "edit",
              input: { file_path: "notes.md", old_string: "notes", new_string: "NOTES" },
            },
          ],
        },
        { content: [{ type: "tool_use", name: "read", input: { file_path: "notes.md" } }] },
        { content: [{ type: "text", text: "All done." }] },
      ],
    });
    const agent = await client.beta.agents.create({
      name: "sh",
      model,
      tools: [{ type: "agent_toolset_20260401" }],
    });
    const session = await client.beta.sessions.create({ agent: agent.id, environment_id: env.id });
    const workdir = mkdtempSync(join(tmpdir(), "tendon-worker-"));
    const abort = new AbortController();
    const worker = client.beta.environments.work.worker({
      environmentId: env.id,
      environmentKey: env.key,
      workdir,
      maxIdleMs: 500,
      signal: abort.signal,
    });
    const running = worker.run().catch((e: unknown) => e);
    try {
      const stream = await collect(client, session.id);
      await client.beta.sessions.events.send(session.id, {
        events: [{ type: "user.message", content: [{ type: "text", text: "do it" }] }],
      });
      const got = await stream.until(isEndTurn, 60_000);
      stream.close();
      const uses = got.filter(
        (e) => e.type === "agent.tool_use",
      ) as Anthropic.Beta.Sessions.BetaManagedAgentsAgentToolUseEvent[];
      const results = got.filter(
        (e) => e.type === "user.tool_result",
      ) as Anthropic.Beta.Sessions.BetaManagedAgentsUserToolResultEvent[];
      expect(uses.map((u) => u.name)).toEqual(["bash", "write", "edit", "read"]);
      expect(uses.every((u) => u.evaluated_permission === "allow")).toBe(true);
      expect(results.map((r) => r.tool_use_id)).toEqual(uses.map((u) => u.id));
      expect(results.every((r) => r.is_error !== true)).toBe(true);
      const text = (r: (typeof results)[number]) =>
        (r.content ?? []).map((b) => (b.type === "text" ? b.text : "")).join("");
      expect(text(results[0]!)).toContain("hello-from-worker");
      expect(text(results[3]!)).toContain("# NOTES");
      expect(readFileSync(join(workdir, "notes.md"), "utf8")).toBe("# NOTES\nline two\n");
      expect(got.filter((e) => e.type === "agent.message").at(-1)).toMatchObject({
        content: [{ text: "All done." }],
      });
      // The model saw each worker result paired with its call.
      const last = t.mock.requests(model).at(-1)?.body as {
        messages: Array<{ role: string; content: Array<{ type: string; tool_use_id?: string }> }>;
      };
      expect(last.messages.at(-1)?.content[0]).toMatchObject({
        type: "tool_result",
        tool_use_id: uses[3]!.id,
      });
    } finally {
      abort.abort();
      await running;
      rmSync(workdir, { recursive: true, force: true });
    }
  });
});

describe("work queue endpoints", () => {
  const call = async (method: string, path: string, key: string, body?: unknown) => {
    const res = await fetch(`${t.stack.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body ? { "content-type": "application/json" } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return {
      status: res.status,
      headers: res.headers,
      body: text ? (JSON.parse(text) as Record<string, unknown>) : null,
    };
  };

  it("poll → ack → heartbeat (exact precondition) → stop, with the three credential kinds", async () => {
    const env = await selfHostedEnv();
    const empty = await call("GET", `/v1/environments/${env.id}/work/poll?block_ms=50`, env.key);
    expect(empty.status).toBe(204);

    const agent = await client.beta.agents.create({ name: "q", model: "m" });
    const session = await client.beta.sessions.create({ agent: agent.id, environment_id: env.id });
    const polled = await call("GET", `/v1/environments/${env.id}/work/poll?block_ms=999`, env.key);
    expect(polled.status).toBe(200);
    expect(polled.body).toMatchObject({
      type: "work",
      environment_id: env.id,
      data: { type: "session", id: session.id },
      state: "queued",
    });
    const workId = polled.body!.id as string;
    const secret = JSON.parse(Buffer.from(polled.body!.secret as string, "base64url").toString()) as {
      sessions_token: string;
    };
    const token = secret.sessions_token;

    // A handed-out item is not handed out again before its reclaim window (5 s by default).
    expect((await call("GET", `/v1/environments/${env.id}/work/poll`, env.key)).status).toBe(204);
    const stats = await call("GET", `/v1/environments/${env.id}/work/stats`, t.apiKey);
    expect(stats.body).toMatchObject({ type: "work_queue_stats", depth: 0, pending: 1 });

    const ack = await call("POST", `/v1/environments/${env.id}/work/${workId}/ack`, env.key);
    expect(ack.body).toMatchObject({ state: "starting", acknowledged_at: expect.any(String) });

    const hb = `/v1/environments/${env.id}/work/${workId}/heartbeat`;
    const first = await call("POST", `${hb}?expected_last_heartbeat=NO_HEARTBEAT`, token);
    expect(first.body).toMatchObject({
      type: "work_heartbeat",
      state: "active",
      lease_extended: true,
      ttl_seconds: 60,
    });
    const last = first.body!.last_heartbeat as string;
    const stale = await call("POST", `${hb}?expected_last_heartbeat=NO_HEARTBEAT`, token);
    expect(stale.status).toBe(412);
    expect(stale.body).toMatchObject({
      error: {
        details: {
          error_code: "heartbeat_precondition_failed",
          current_state: { last_heartbeat: last, state: "active" },
        },
      },
    });
    const second = await call("POST", `${hb}?expected_last_heartbeat=${encodeURIComponent(last)}`, token);
    expect(second.status).toBe(200);

    // The sessions token reaches its own session only.
    expect((await call("GET", `/v1/sessions/${session.id}`, token)).status).toBe(200);
    const other = await client.beta.sessions.create({ agent: agent.id, environment_id: env.id });
    expect((await call("GET", `/v1/sessions/${other.id}`, token)).status).toBe(403);
    expect((await call("GET", `/v1/environments/${env.id}/work/stats`, token)).status).toBe(403);

    // Stop without force asks the worker to let go; the heartbeat says so; force stops it.
    const stopping = await call("POST", `/v1/environments/${env.id}/work/${workId}/stop`, t.apiKey, {});
    expect(stopping.body).toMatchObject({ state: "stopping" });
    const told = await call("POST", `${hb}?expected_last_heartbeat=whatever`, token);
    expect(told.body).toMatchObject({ state: "stopping", lease_extended: false });
    const stopped = await call("POST", `/v1/environments/${env.id}/work/${workId}/stop`, token, {
      force: true,
    });
    expect(stopped.body).toMatchObject({ state: "stopped", stopped_at: expect.any(String) });
    const again = await call("POST", `/v1/environments/${env.id}/work/${workId}/stop`, env.key, {
      force: true,
    });
    expect(again.status).toBe(409);
    expect(again.headers.get("x-should-retry")).toBe("false");
    // The token dies with the item.
    expect((await call("GET", `/v1/sessions/${session.id}`, token)).status).toBe(401);

    const listed = await call("GET", `/v1/environments/${env.id}/work`, env.key);
    expect((listed.body!.data as Array<{ id: string }>).map((w) => w.id)).toContain(workId);
    const updated = await call("POST", `/v1/environments/${env.id}/work/${workId}`, t.apiKey, {
      metadata: { note: "x" },
    });
    expect(updated.body).toMatchObject({ metadata: { note: "x" }, secret: null });
  });
});
