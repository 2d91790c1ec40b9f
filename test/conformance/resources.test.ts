/**
 * SDK conformance: agents (versions, optimistic updates, pinning, archive), environments,
 * sessions (list filters, order, update, archive, delete), and the error envelope.
 */
import Anthropic, { type APIError } from "@anthropic-ai/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { collect, isEndTurn } from "../support/sse.js";
import { startTestStack, type TestStack } from "../support/stack.js";

let t: TestStack;
let client: Anthropic;

beforeAll(async () => {
  t = await startTestStack({ harnessWorkers: 1 });
  client = t.client;
});
afterAll(async () => {
  await t?.stop();
});

const uniq = (tag: string) => `${tag}-${Math.random().toString(36).slice(2, 8)}`;

async function expectApiError(p: Promise<unknown>, status: number, type: string): Promise<APIError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(Anthropic.APIError);
  const err = e as APIError;
  expect(err.status).toBe(status);
  expect(err.error).toMatchObject({
    type: "error",
    error: { type, message: expect.any(String) },
    request_id: expect.stringMatching(/^req_/),
  });
  expect(err.requestID).toBe((err.error as { request_id: string }).request_id);
  return err;
}

describe("agents", () => {
  it("versions on every effective update, pins sessions to a version, and rejects stale updates", async () => {
    const model = uniq("mock-ver");
    t.mock.script(model, { steps: [{ content: [{ type: "text", text: "ok" }] }], repeat_last: true });
    const v1 = await client.beta.agents.create({
      name: "versioned",
      model,
      system: "first",
      metadata: { team: "a" },
    });
    const v2 = await client.beta.agents.update(v1.id, {
      version: 1,
      system: "second",
      metadata: { team: null, env: "prod" },
    });
    expect(v2).toMatchObject({ version: 2, system: "second", metadata: { env: "prod" } });
    const same = await client.beta.agents.update(v1.id, { system: "second" });
    expect(same.version).toBe(2);

    const stale = await expectApiError(
      client.beta.agents.update(v1.id, { version: 1, system: "third" }),
      409,
      "invalid_request_error",
    );
    expect(stale.headers?.get("x-should-retry")).toBe("false");

    expect(await client.beta.agents.retrieve(v1.id, { version: 1 })).toMatchObject({
      version: 1,
      system: "first",
    });
    expect(await client.beta.agents.retrieve(v1.id)).toMatchObject({ version: 2, system: "second" });
    const versions: number[] = [];
    for await (const a of client.beta.agents.versions.list(v1.id)) versions.push(a.version);
    expect(versions).toEqual([2, 1]);

    const env = await client.beta.environments.create({ name: uniq("env") });
    const pinned = await client.beta.sessions.create({
      agent: { type: "agent", id: v1.id, version: 1 },
      environment_id: env.id,
    });
    expect(pinned.agent).toMatchObject({ id: v1.id, version: 1, system: "first" });
    const latest = await client.beta.sessions.create({ agent: v1.id, environment_id: env.id });
    expect(latest.agent).toMatchObject({ version: 2, system: "second" });

    const stream = await collect(client, pinned.id);
    await client.beta.sessions.events.send(pinned.id, {
      events: [{ type: "user.message", content: [{ type: "text", text: "hi" }] }],
    });
    await stream.until(isEndTurn);
    stream.close();
    expect(t.mock.requests(model).at(-1)?.body).toMatchObject({ system: "first" });

    const overridden = await client.beta.sessions.create({
      agent: { type: "agent_with_overrides", id: v1.id, system: "override" },
      environment_id: env.id,
    });
    expect(overridden.agent).toMatchObject({ version: 2, system: "override" });

    const listed: string[] = [];
    for await (const s of client.beta.sessions.list({ agent_id: v1.id, agent_version: 1 })) listed.push(s.id);
    expect(listed).toEqual([pinned.id]);
  });

  it("archives: archived agents stay readable but cannot start sessions", async () => {
    const a = await client.beta.agents.create({ name: "old", model: "m" });
    const archived = await client.beta.agents.archive(a.id);
    expect(archived.archived_at).toEqual(expect.any(String));
    const env = await client.beta.environments.create({ name: uniq("env") });
    await expectApiError(
      client.beta.sessions.create({ agent: a.id, environment_id: env.id }),
      400,
      "invalid_request_error",
    );
    const visible: string[] = [];
    for await (const x of client.beta.agents.list()) visible.push(x.id);
    expect(visible).not.toContain(a.id);
    const all: string[] = [];
    for await (const x of client.beta.agents.list({ include_archived: true })) all.push(x.id);
    expect(all).toContain(a.id);
  });

  it("validates tool and MCP references", async () => {
    await expectApiError(
      client.beta.agents.create({
        name: "x",
        model: "m",
        mcp_servers: [{ type: "url", name: "srv", url: "https://mcp.example.com" }],
      }),
      400,
      "invalid_request_error",
    );
    await expectApiError(
      client.beta.agents.create({
        name: "x",
        model: "m",
        tools: [{ type: "mcp_toolset", mcp_server_name: "missing" }],
      }),
      400,
      "invalid_request_error",
    );
  });
});

describe("environments", () => {
  it("creates with defaults, updates, refuses type changes and duplicate names, archives and deletes", async () => {
    const name = uniq("env");
    const env = await client.beta.environments.create({ name, metadata: { a: "1" } });
    expect(env).toMatchObject({
      type: "environment",
      name,
      config: { type: "cloud", networking: { type: "unrestricted" }, packages: { apt: [], pip: [] } },
      archived_at: null,
    });
    const dup = await expectApiError(client.beta.environments.create({ name }), 409, "invalid_request_error");
    expect(dup.headers?.get("x-should-retry")).toBe("false");
    const upd = await client.beta.environments.update(env.id, {
      description: "d",
      config: { type: "cloud", networking: { type: "limited", allowed_hosts: ["api.example.com"] } },
    });
    expect(upd.config).toMatchObject({
      networking: { type: "limited", allowed_hosts: ["api.example.com"], allow_mcp_servers: false },
    });
    const change = await expectApiError(
      client.beta.environments.update(env.id, { config: { type: "self_hosted" } }),
      400,
      "invalid_request_error",
    );
    expect((change.error as { error: { details?: { error_code?: string } } }).error.details?.error_code).toBe(
      "invalid_config_type_change",
    );

    const archived = await client.beta.environments.archive(env.id);
    expect(archived.archived_at).toEqual(expect.any(String));
    const agent = await client.beta.agents.create({ name: "a", model: "m" });
    await expectApiError(
      client.beta.sessions.create({ agent: agent.id, environment_id: env.id }),
      400,
      "invalid_request_error",
    );

    const other = await client.beta.environments.create({ name: uniq("env") });
    expect(await client.beta.environments.delete(other.id)).toEqual({
      id: other.id,
      type: "environment_deleted",
    });
    await expectApiError(client.beta.environments.retrieve(other.id), 404, "not_found_error");
  });
});

describe("sessions", () => {
  it("lists with filters and order, updates title and metadata, archives and deletes", async () => {
    const env = await client.beta.environments.create({ name: uniq("env") });
    const agent = await client.beta.agents.create({ name: "lister", model: "m" });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      ids.push(
        (await client.beta.sessions.create({ agent: agent.id, environment_id: env.id, title: `s${i}` })).id,
      );
    }
    const desc: string[] = [];
    for await (const s of client.beta.sessions.list({ agent_id: agent.id, limit: 2 })) desc.push(s.id);
    expect(desc).toEqual([...ids].reverse());
    const asc: string[] = [];
    for await (const s of client.beta.sessions.list({ agent_id: agent.id, order: "asc", limit: 2 }))
      asc.push(s.id);
    expect(asc).toEqual(ids);
    const page2 = await client.beta.sessions
      .list({ agent_id: agent.id, limit: 2 })
      .then((p) => p.getNextPage());
    expect(page2.data.map((s) => s.id)).toEqual([ids[0]]);
    expect((page2 as unknown as { prev_page: string | null }).prev_page).toEqual(expect.any(String));

    const idle: string[] = [];
    for await (const s of client.beta.sessions.list({ agent_id: agent.id, statuses: ["idle"] }))
      idle.push(s.id);
    expect(idle).toHaveLength(3);
    const running: string[] = [];
    for await (const s of client.beta.sessions.list({ agent_id: agent.id, statuses: ["running"] }))
      running.push(s.id);
    expect(running).toEqual([]);

    const updated = await client.beta.sessions.update(ids[0]!, { title: "renamed", metadata: { k: "v" } });
    expect(updated).toMatchObject({ title: "renamed", metadata: { k: "v" } });
    const events: string[] = [];
    for await (const e of client.beta.sessions.events.list(ids[0]!)) events.push(e.type);
    expect(events).toEqual(["session.updated"]);

    const archived = await client.beta.sessions.archive(ids[1]!);
    expect(archived).toMatchObject({ status: "terminated", archived_at: expect.any(String) });
    const refused = await expectApiError(
      client.beta.sessions.events.send(ids[1]!, {
        events: [{ type: "user.message", content: [{ type: "text", text: "x" }] }],
      }),
      409,
      "invalid_request_error",
    );
    expect(refused.headers?.get("x-should-retry")).toBe("false");

    const stream = await collect(client, ids[2]!);
    expect(await client.beta.sessions.delete(ids[2]!)).toEqual({ id: ids[2], type: "session_deleted" });
    await stream.until((e) => e.type === "session.deleted");
    await stream.ended;
    await expectApiError(client.beta.sessions.retrieve(ids[2]!), 404, "not_found_error");
  });
});

describe("errors", () => {
  const post = (path: string, body: string | Buffer, headers: Record<string, string> = {}) =>
    fetch(`${t.stack.url}${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${t.apiKey}`, "content-type": "application/json", ...headers },
      body,
    });

  async function envelope(res: Response, status: number, type: string) {
    expect(res.status).toBe(status);
    const body = (await res.json()) as {
      type: string;
      error: { type: string; message: string };
      request_id: string;
    };
    expect(body).toMatchObject({ type: "error", error: { type, message: expect.any(String) } });
    expect(body.request_id).toBe(res.headers.get("request-id"));
    return body;
  }

  it("malformed JSON is a 400 in the envelope", async () => {
    const body = await envelope(await post("/v1/agents", "{not json"), 400, "invalid_request_error");
    expect(body.error.message).toMatch(/JSON/);
  });

  it("missing or wrong credentials are 401; x-api-key works like a bearer token", async () => {
    const res = await fetch(`${t.stack.url}/v1/agents`);
    await envelope(res, 401, "authentication_error");
    await expectApiError(
      new Anthropic({ baseURL: t.stack.url, apiKey: "sk-tnd-api-wrong", maxRetries: 0 }).beta.agents.list(),
      401,
      "authentication_error",
    );
    const ok = await fetch(`${t.stack.url}/v1/agents`, {
      headers: { "x-api-key": t.apiKey, "anthropic-version": "2023-06-01" },
    });
    expect(ok.status).toBe(200);
  });

  it("unknown event types and invalid events are 400 and change nothing", async () => {
    const env = await client.beta.environments.create({ name: uniq("env") });
    const agent = await client.beta.agents.create({ name: "e", model: "m" });
    const s = await client.beta.sessions.create({ agent: agent.id, environment_id: env.id });
    await expectApiError(
      client.beta.sessions.events.send(s.id, { events: [{ type: "user.dance" } as never] }),
      400,
      "invalid_request_error",
    );
    await expectApiError(
      client.beta.sessions.events.send(s.id, {
        events: [
          { type: "user.message", content: [{ type: "text", text: "valid" }] },
          { type: "user.custom_tool_result", custom_tool_use_id: "sevt_doesnotexist0", content: [] },
        ],
      }),
      400,
      "invalid_request_error",
    );
    const page = await client.beta.sessions.events.list(s.id);
    expect(page.data).toEqual([]);
    expect((await client.beta.sessions.retrieve(s.id)).status).toBe("idle");
  });

  it("wrong ids are 404", async () => {
    await expectApiError(
      client.beta.sessions.retrieve("sesn_doesnotexist000000000000"),
      404,
      "not_found_error",
    );
    await expectApiError(client.beta.agents.retrieve("agent_nope"), 404, "not_found_error");
    await expectApiError(client.beta.environments.retrieve("not-even-an-id"), 404, "not_found_error");
    await expectApiError(client.beta.sessions.events.list("sesn_missing00000000"), 404, "not_found_error");
    const res = await fetch(`${t.stack.url}/v1/nothing-here`, {
      headers: { authorization: `Bearer ${t.apiKey}` },
    });
    await envelope(res, 404, "not_found_error");
  });

  it("oversized bodies are 413", async () => {
    const big = JSON.stringify({ name: "x", model: "m", system: "a".repeat(2 * 1024 * 1024) });
    await envelope(await post("/v1/agents", big), 413, "request_too_large");
  });

  it("bad query parameters are 400", async () => {
    await expectApiError(client.beta.sessions.list({ limit: 0 }), 400, "invalid_request_error");
    await expectApiError(client.beta.sessions.list({ page: "garbage" }), 400, "invalid_request_error");
  });
});
