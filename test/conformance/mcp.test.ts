/**
 * MCP through the credential-proxy, driven by the SDK: a session calls a test MCP server whose
 * bearer tokens expire; the proxy refreshes the token mid-session with the vault's refresh token.
 * The token never reaches the event log, the harness process (memory and logs) or a sandbox.
 * MCP toolsets default to always_ask; connection and auth failures are session.error events.
 */
import { randomBytes } from "node:crypto";
import type Anthropic from "@anthropic-ai/sdk";
import { startTestMcpServer, type TestMcpServer } from "@tendon/mcp/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { processMemoryContains } from "../support/memscan.js";
import { collect, isEndTurn } from "../support/sse.js";
import { useTestStack } from "../support/stack.js";

const fx = useTestStack();
let mcp: TestMcpServer;
const initialAccess = `mcp-access-${randomBytes(12).toString("hex")}`;
const initialRefresh = `mcp-refresh-${randomBytes(12).toString("hex")}`;
const clientSecret = `mcp-client-${randomBytes(12).toString("hex")}`;

beforeAll(async () => {
  mcp = await startTestMcpServer({
    oauth: {
      clientId: "tendon",
      clientSecret,
      accessTtlMs: 3_600_000,
      initialAccessToken: initialAccess,
      initialRefreshToken: initialRefresh,
    },
  });
});
afterAll(async () => {
  await mcp?.stop();
});

const say = (text: string) => ({ type: "user.message" as const, content: [{ type: "text" as const, text }] });

/** A vault holding the server's current tokens (refresh tokens rotate on every refresh). */
async function vaultWithOAuth(client: Anthropic): Promise<string> {
  const current = mcp.issued().at(-1)!;
  const vault = await client.beta.vaults.create({ display_name: "mcp user" });
  await client.beta.vaults.credentials.create(vault.id, {
    auth: {
      type: "mcp_oauth",
      mcp_server_url: mcp.url,
      access_token: current.accessToken,
      refresh: {
        refresh_token: current.refreshToken,
        client_id: "tendon",
        token_endpoint: mcp.tokenEndpoint,
        token_endpoint_auth: { type: "client_secret_basic", client_secret: clientSecret },
      },
    },
  });
  return vault.id;
}

function allSecrets(): string[] {
  return [
    initialAccess,
    initialRefresh,
    clientSecret,
    ...mcp.issued().flatMap((t) => [t.accessToken, t.refreshToken]),
  ];
}

describe("MCP through the credential-proxy", () => {
  it("calls MCP tools with the vault's credential, refreshes an expired token mid-session, and the token leaks nowhere", async () => {
    const client = fx.client;
    const model = `mock-mcp-${Math.random().toString(36).slice(2, 8)}`;
    fx.t.mock.script(model, {
      steps: [
        { content: [{ type: "tool_use", name: "tools__echo", input: { text: "first call" } }] },
        { content: [{ type: "tool_use", name: "tools__add", input: { a: 2, b: 40 } }] },
        {
          content: [
            {
              type: "tool_use",
              name: "bash",
              input: { command: "env; cat /proc/*/environ 2>/dev/null | tr '\\0' '\\n'; echo done" },
            },
          ],
        },
        { content: [{ type: "text", text: "all done" }] },
      ],
    });
    const agent = await client.beta.agents.create({
      name: "mcp",
      model,
      mcp_servers: [{ type: "url", name: "tools", url: mcp.url }],
      tools: [
        {
          type: "mcp_toolset",
          mcp_server_name: "tools",
          default_config: { permission_policy: { type: "always_allow" } },
        },
        { type: "agent_toolset_20260401" },
      ],
    });
    const vaultId = await vaultWithOAuth(client);
    const session = await client.beta.sessions.create({
      agent: agent.id,
      environment_id: fx.environmentId,
      vault_ids: [vaultId],
    });
    const stream = await collect(client, session.id);
    await client.beta.sessions.events.send(session.id, { events: [say("use the tools")] });
    // After the first call, the access token expires: the second call must refresh it.
    await stream.until((e) => e.type === "agent.mcp_tool_result");
    mcp.expireAccessToken();
    const got = await stream.until(isEndTurn, 60_000);
    stream.close();

    const uses = got.filter(
      (e) => e.type === "agent.mcp_tool_use",
    ) as Anthropic.Beta.Sessions.BetaManagedAgentsAgentMCPToolUseEvent[];
    const results = got.filter(
      (e) => e.type === "agent.mcp_tool_result",
    ) as Anthropic.Beta.Sessions.BetaManagedAgentsAgentMCPToolResultEvent[];
    expect(uses.map((u) => [u.mcp_server_name, u.name, u.evaluated_permission])).toEqual([
      ["tools", "echo", "allow"],
      ["tools", "add", "allow"],
    ]);
    expect(results.map((r) => [r.mcp_tool_use_id, r.is_error, r.content?.[0]])).toEqual([
      [uses[0]!.id, false, { type: "text", text: "first call" }],
      [uses[1]!.id, false, { type: "text", text: "42" }],
    ]);
    expect(got.some((e) => e.type === "session.error")).toBe(false);
    // The refresh happened mid-session and the second call carried the new token.
    expect(mcp.issued().length).toBeGreaterThanOrEqual(2);
    const fresh = mcp.issued().at(-1)!.accessToken;
    expect(mcp.seenTokens()).toContain(fresh);

    const secrets = allSecrets();
    // Not in the event log...
    const log: unknown[] = [];
    for await (const e of client.beta.sessions.events.list(session.id)) log.push(e);
    const logText = JSON.stringify(log);
    for (const s of secrets) expect(logText).not.toContain(s);
    // ...not in the sandbox the same session used...
    const bash = got.find(
      (e) => e.type === "agent.tool_result",
    ) as Anthropic.Beta.Sessions.BetaManagedAgentsAgentToolResultEvent;
    expect(JSON.stringify(bash.content)).toContain("done");
    for (const s of secrets) expect(JSON.stringify(bash.content)).not.toContain(s);
    // ...and not in any harness worker: neither its memory nor its logs.
    for (const h of fx.t.stack.harness) {
      expect(processMemoryContains(h.pid, secrets)).toEqual([]);
      const out = h.lines().join("\n");
      for (const s of secrets) expect(out).not.toContain(s);
    }
  });

  it("MCP toolsets default to always_ask", async () => {
    const client = fx.client;
    const model = `mock-mcpask-${Math.random().toString(36).slice(2, 8)}`;
    fx.t.mock.script(model, {
      steps: [{ content: [{ type: "tool_use", name: "tools__echo", input: { text: "x" } }] }],
    });
    const agent = await client.beta.agents.create({
      name: "mcp-ask",
      model,
      mcp_servers: [{ type: "url", name: "tools", url: mcp.url }],
      tools: [{ type: "mcp_toolset", mcp_server_name: "tools" }],
    });
    expect(agent.tools[0]).toMatchObject({ default_config: { permission_policy: { type: "always_ask" } } });
    const session = await client.beta.sessions.create({
      agent: agent.id,
      environment_id: fx.environmentId,
      vault_ids: [await vaultWithOAuth(client)],
    });
    const stream = await collect(client, session.id);
    await client.beta.sessions.events.send(session.id, { events: [say("go")] });
    const got = await stream.until((e) => e.type === "session.status_idle");
    stream.close();
    const use = got.find(
      (e) => e.type === "agent.mcp_tool_use",
    ) as Anthropic.Beta.Sessions.BetaManagedAgentsAgentMCPToolUseEvent;
    expect(use.evaluated_permission).toBe("ask");
    expect(got.at(-1)).toMatchObject({ stop_reason: { type: "requires_action", event_ids: [use.id] } });
  });

  it("reports unreachable servers and rejected credentials as session.error of the MCP types", async () => {
    const client = fx.client;
    const model = `mock-mcpfail-${Math.random().toString(36).slice(2, 8)}`;
    fx.t.mock.script(model, { steps: [{ content: [{ type: "text", text: "carrying on without them" }] }] });
    const agent = await client.beta.agents.create({
      name: "mcp-fail",
      model,
      mcp_servers: [
        { type: "url", name: "gone", url: "http://127.0.0.1:9/mcp" },
        { type: "url", name: "locked", url: mcp.url },
      ],
      tools: [
        { type: "mcp_toolset", mcp_server_name: "gone" },
        { type: "mcp_toolset", mcp_server_name: "locked" },
      ],
    });
    const vault = await client.beta.vaults.create({ display_name: "wrong token" });
    await client.beta.vaults.credentials.create(vault.id, {
      auth: { type: "static_bearer", mcp_server_url: mcp.url, token: "not-a-valid-token" },
    });
    const session = await client.beta.sessions.create({
      agent: agent.id,
      environment_id: fx.environmentId,
      vault_ids: [vault.id],
    });
    const stream = await collect(client, session.id);
    await client.beta.sessions.events.send(session.id, { events: [say("go")] });
    const got = await stream.until(isEndTurn, 60_000);
    stream.close();
    const errors = got.filter(
      (e) => e.type === "session.error",
    ) as Anthropic.Beta.Sessions.BetaManagedAgentsSessionErrorEvent[];
    expect(
      errors.map((e) => [e.error.type, (e.error as { mcp_server_name?: string }).mcp_server_name]).sort(),
    ).toEqual([
      ["mcp_authentication_failed_error", "locked"],
      ["mcp_connection_failed_error", "gone"],
    ]);
    expect(JSON.stringify(errors)).not.toContain("not-a-valid-token");
    expect(got.find((e) => e.type === "agent.message")).toMatchObject({
      content: [{ text: "carrying on without them" }],
    });
  });
});
