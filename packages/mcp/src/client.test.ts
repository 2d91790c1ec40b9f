import { createServer, type Server } from "node:http";
import { createServer as createTcpServer, type Socket } from "node:net";
import { inspect } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { callMcpTool, listMcpTools, type McpAuthProvider, staticBearerAuth } from "./client.js";
import { McpAuthenticationError, McpConnectionError } from "./errors.js";
import { refreshOAuthToken } from "./oauth.js";
import { startTestMcpServer, type TestMcpServer, type TestTool } from "./testing/index.js";

const CLIENT_ID = "tendon-client";
const SECRET = "cs_client_secret_for_tests_42";
const AT0 = "at_initial_access_token_0001";
const RT0 = "rt_initial_refresh_token_0001";
const STATIC = "static_bearer_token_0001";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function mcpServer(opts: { tools?: TestTool[]; staticToken?: string } = {}): Promise<TestMcpServer> {
  const server = await startTestMcpServer({
    ...opts,
    oauth: {
      clientId: CLIENT_ID,
      clientSecret: SECRET,
      accessTtlMs: 3_600_000,
      initialAccessToken: AT0,
      initialRefreshToken: RT0,
    },
  });
  cleanups.push(() => server.stop());
  return server;
}

/** What the credential-proxy does: a vault entry whose refresh uses refreshOAuthToken. */
function vaultAuth(server: TestMcpServer, clientSecret = SECRET) {
  const state = { accessToken: AT0, refreshToken: RT0, refreshCalls: 0, headerCalls: 0 };
  const provider: McpAuthProvider = {
    headers: async () => {
      state.headerCalls++;
      return { Authorization: `Bearer ${state.accessToken}` };
    },
    refresh: async (opts) => {
      state.refreshCalls++;
      try {
        const t = await refreshOAuthToken(
          {
            tokenEndpoint: server.tokenEndpoint,
            clientId: CLIENT_ID,
            refreshToken: state.refreshToken,
            auth: { type: "client_secret_basic", clientSecret },
          },
          opts?.signal ? { signal: opts.signal } : {},
        );
        state.accessToken = t.accessToken;
        if (t.refreshToken) state.refreshToken = t.refreshToken;
        return true;
      } catch (err) {
        if (err instanceof McpAuthenticationError) return false;
        throw err;
      }
    },
  };
  return { provider, state };
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error("expected a rejection");
}

function expectNoSecrets(err: unknown, secrets: string[]): void {
  const views = [String(err), (err as Error).stack ?? "", inspect(err, { depth: 10 }), JSON.stringify(err)];
  for (const view of views) for (const s of secrets) expect(view).not.toContain(s);
}

function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** A tool that signals when it starts and finishes only when released (or the test ends). */
function gatedTool() {
  const started = deferred();
  const gate = deferred();
  cleanups.push(() => gate.resolve());
  const tool: TestTool = {
    name: "slow",
    description: "waits for the test",
    inputSchema: { type: "object" },
    run: async () => {
      started.resolve();
      await gate.promise;
      return "late";
    },
  };
  return { tool, started: started.promise };
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  cleanups.push(() => {
    server.closeAllConnections();
    return new Promise<void>((r) => server.close(() => r()));
  });
  return (server.address() as { port: number }).port;
}

async function closedPort(): Promise<number> {
  const s = createTcpServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const { port } = s.address() as { port: number };
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe("listMcpTools / callMcpTool with a valid token", () => {
  it("lists the tools with their schemas", async () => {
    const server = await mcpServer();
    const { provider } = vaultAuth(server);
    const tools = await listMcpTools({ name: "test", url: server.url }, provider);
    expect(tools).toEqual([
      {
        name: "echo",
        description: "Returns its `text` argument unchanged.",
        inputSchema: { type: "object", properties: { text: { type: "string" } }, required: ["text"] },
      },
      {
        name: "add",
        description: "Adds two numbers.",
        inputSchema: {
          type: "object",
          properties: { a: { type: "number" }, b: { type: "number" } },
          required: ["a", "b"],
        },
      },
    ]);
    expect(new Set(server.seenTokens())).toEqual(new Set([AT0]));
  });

  it("calls tools and maps text and image content", async () => {
    const server = await mcpServer({
      tools: [
        {
          name: "add",
          description: "sum",
          inputSchema: { type: "object" },
          run: (i) => String(Number(i.a) + Number(i.b)),
        },
        {
          name: "picture",
          description: "an image and an audio clip",
          inputSchema: { type: "object" },
          run: () => ({
            content: [
              { type: "text", text: "here" },
              { type: "image", data: "iVBORw0KGgo=", mimeType: "image/png" },
              { type: "audio", data: "AAAA", mimeType: "audio/wav" },
            ],
          }),
        },
        {
          name: "fails",
          description: "throws",
          inputSchema: { type: "object" },
          run: () => {
            throw new Error("disk full");
          },
        },
      ],
    });
    const ref = { name: "test", url: server.url };
    const { provider } = vaultAuth(server);
    expect(await callMcpTool(ref, provider, "add", { a: 2, b: 40 })).toEqual({
      content: [{ type: "text", text: "42" }],
      isError: false,
    });
    expect(await callMcpTool(ref, provider, "picture", {})).toEqual({
      content: [
        { type: "text", text: "here" },
        { type: "image", source: { type: "base64", media_type: "image/png", data: "iVBORw0KGgo=" } },
        { type: "text", text: "[audio omitted: audio/wav, 3 bytes]" },
      ],
      isError: false,
    });
    expect(await callMcpTool(ref, provider, "fails", {})).toEqual({
      content: [{ type: "text", text: "disk full" }],
      isError: true,
    });
    expect(server.toolCalls()).toEqual([
      { name: "add", input: { a: 2, b: 40 } },
      { name: "picture", input: {} },
      { name: "fails", input: {} },
    ]);
  });

  it("returns an unknown tool as an isError result", async () => {
    const server = await mcpServer();
    const { provider } = vaultAuth(server);
    const result = await callMcpTool({ name: "test", url: server.url }, provider, "nope", {});
    expect(result.isError).toBe(true);
    expect(result.content).toEqual([{ type: "text", text: expect.stringContaining("Unknown tool: nope") }]);
  });

  it("works with a static bearer token and with no refresh support", async () => {
    const server = await mcpServer({ staticToken: STATIC });
    const result = await callMcpTool({ name: "s", url: server.url }, staticBearerAuth(STATIC), "echo", {
      text: "hi",
    });
    expect(result).toEqual({ content: [{ type: "text", text: "hi" }], isError: false });
    expect(server.seenTokens()).toContain(STATIC);

    const err = await rejection(
      listMcpTools({ name: "s", url: server.url }, staticBearerAuth("wrong_static_tok")),
    );
    expect(err).toBeInstanceOf(McpAuthenticationError);
    expect(err).toMatchObject({ serverName: "s", status: 401 });
    expectNoSecrets(err, ["wrong_static_tok", STATIC]);
  });

  it("sends no Authorization header when the provider has none (and gets 401 here)", async () => {
    const server = await mcpServer();
    const err = await rejection(listMcpTools({ name: "open", url: server.url }, staticBearerAuth()));
    expect(err).toBeInstanceOf(McpAuthenticationError);
    expect(server.seenTokens()).toEqual([]);
  });
});

describe("token refresh on 401", () => {
  it("refreshes once after expiry, retries, and the server sees the new token", async () => {
    const server = await mcpServer();
    const { provider, state } = vaultAuth(server);
    const ref = { name: "test", url: server.url };
    await listMcpTools(ref, provider);
    server.expireAccessToken();

    const result = await callMcpTool(ref, provider, "echo", { text: "after refresh" });
    expect(result).toEqual({ content: [{ type: "text", text: "after refresh" }], isError: false });
    expect(state.refreshCalls).toBe(1);
    const fresh = server.issued().at(-1)!;
    expect(fresh.accessToken).not.toBe(AT0);
    expect(state.accessToken).toBe(fresh.accessToken);
    expect(state.refreshToken).toBe(fresh.refreshToken);
    expect(server.seenTokens()).toContain(fresh.accessToken);
    expect(server.seenTokens().at(-1)).toBe(fresh.accessToken);
    expect(server.toolCalls()).toEqual([{ name: "echo", input: { text: "after refresh" } }]);
    expect(server.tokenRequests()).toMatchObject([{ authMethod: "client_secret_basic", error: undefined }]);
  });

  it("fails with McpAuthenticationError when the refresh is refused, leaking nothing", async () => {
    const server = await mcpServer();
    const wrongSecret = "cs_not_the_right_secret_9";
    const { provider, state } = vaultAuth(server, wrongSecret);
    server.expireAccessToken();
    const err = await rejection(
      callMcpTool({ name: "srv", url: server.url }, provider, "echo", { text: "x" }),
    );
    expect(err).toBeInstanceOf(McpAuthenticationError);
    expect(err).toMatchObject({ serverName: "srv", status: 401 });
    expect(String(err)).toContain('MCP server "srv"');
    expect(state.refreshCalls).toBe(1);
    expect(server.toolCalls()).toEqual([]);
    expectNoSecrets(err, [AT0, RT0, SECRET, wrongSecret]);
  });

  it("gives up after one refresh when the refreshed token is still rejected", async () => {
    const server = await mcpServer();
    let refreshCalls = 0;
    const provider: McpAuthProvider = {
      headers: async () => ({
        Authorization: `Bearer ${refreshCalls === 0 ? "tok_old_1234" : "tok_new_5678"}`,
      }),
      refresh: async () => {
        refreshCalls++;
        return true;
      },
    };
    const err = await rejection(listMcpTools({ name: "srv", url: server.url }, provider));
    expect(err).toBeInstanceOf(McpAuthenticationError);
    expect(String(err)).toContain("after a token refresh");
    expect(refreshCalls).toBe(1);
    expect(server.seenTokens()).toEqual(["tok_old_1234", "tok_new_5678"]);
    expectNoSecrets(err, ["tok_old_1234", "tok_new_5678"]);
  });

  it("wraps a throwing refresh: connection failures stay connection errors", async () => {
    const server = await mcpServer();
    const port = await closedPort();
    const state = { token: "tok_expired_0000" };
    const provider: McpAuthProvider = {
      headers: async () => ({ Authorization: `Bearer ${state.token}` }),
      refresh: async () => {
        await refreshOAuthToken({
          tokenEndpoint: `http://127.0.0.1:${port}/token`,
          clientId: CLIENT_ID,
          refreshToken: RT0,
          auth: { type: "client_secret_post", clientSecret: SECRET },
        });
        return true;
      },
    };
    const err = await rejection(
      callMcpTool({ name: "srv", url: server.url }, provider, "echo", { text: "x" }),
    );
    expect(err).toBeInstanceOf(McpConnectionError);
    expect(String(err)).toContain("credential refresh failed");
    expect(String(err)).toContain("ECONNREFUSED");
    expectNoSecrets(err, [state.token, RT0, SECRET]);

    const refusing: McpAuthProvider = {
      headers: provider.headers,
      refresh: async () => {
        throw new Error(`vault said no for ${state.token}`);
      },
    };
    const authErr = await rejection(listMcpTools({ name: "srv", url: server.url }, refusing));
    expect(authErr).toBeInstanceOf(McpAuthenticationError);
    expectNoSecrets(authErr, [state.token]);
  });

  it("propagates a failing headers() unchanged", async () => {
    const server = await mcpServer();
    const boom = new Error("vault unavailable");
    const provider: McpAuthProvider = {
      headers: async () => {
        throw boom;
      },
    };
    expect(await rejection(listMcpTools({ name: "srv", url: server.url }, provider))).toBe(boom);
  });
});

describe("connection failures", () => {
  it("maps a closed port, a wrong path and a bad URL to McpConnectionError", async () => {
    const server = await mcpServer();
    const { provider } = vaultAuth(server);
    const port = await closedPort();

    const refused = await rejection(
      listMcpTools({ name: "gone", url: `http://127.0.0.1:${port}/mcp` }, provider),
    );
    expect(refused).toBeInstanceOf(McpConnectionError);
    expect(refused).toMatchObject({ serverName: "gone" });
    expect(String(refused)).toContain("ECONNREFUSED");

    const wrongPath = server.url.replace(/\/mcp$/, "/not-mcp");
    const notFound = await rejection(callMcpTool({ name: "typo", url: wrongPath }, provider, "echo", {}));
    expect(notFound).toBeInstanceOf(McpConnectionError);
    expect(notFound).toMatchObject({ serverName: "typo", status: 404 });

    const bad = await rejection(listMcpTools({ name: "bad", url: "not a url" }, provider));
    expect(bad).toBeInstanceOf(McpConnectionError);
    const ftp = await rejection(listMcpTools({ name: "ftp", url: "ftp://127.0.0.1/mcp" }, provider));
    expect(ftp).toBeInstanceOf(McpConnectionError);

    for (const err of [refused, notFound, bad, ftp]) expectNoSecrets(err, [AT0, RT0, SECRET]);
  });

  it("never puts the URL's query or userinfo in messages", async () => {
    const port = await closedPort();
    const query = await rejection(
      listMcpTools(
        { name: "q", url: `http://127.0.0.1:${port}/mcp?api_key=key_in_query_5678` },
        staticBearerAuth(STATIC),
      ),
    );
    expect(query).toBeInstanceOf(McpConnectionError);
    expect(String(query)).toContain(`(http://127.0.0.1:${port}/mcp): unreachable (ECONNREFUSED)`);
    expectNoSecrets(query, ["key_in_query_5678", STATIC]);

    const userinfo = await rejection(
      listMcpTools(
        { name: "u", url: `http://user:pw_in_url_1234@127.0.0.1:${port}/mcp` },
        staticBearerAuth(STATIC),
      ),
    );
    expect(userinfo).toBeInstanceOf(McpConnectionError);
    expect(String(userinfo)).toContain("credentials in the URL are not supported");
    expectNoSecrets(userinfo, ["pw_in_url_1234", STATIC]);
  });

  it("maps a non-MCP HTTP answer and a JSON-RPC error to McpConnectionError, scrubbing echoed tokens", async () => {
    let mode: "500" | "rpc-error" = "500";
    const leaky = createServer((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => {
        body += c.toString();
      });
      req.on("end", () => {
        const auth = req.headers.authorization ?? "";
        if (mode === "500") {
          res.writeHead(500, { "content-type": "text/plain" }).end(`crashed handling ${auth}`);
          return;
        }
        const id = (JSON.parse(body) as { id?: number }).id ?? null;
        res.writeHead(200, { "content-type": "application/json" }).end(
          JSON.stringify({
            jsonrpc: "2.0",
            id,
            error: { code: -32603, message: `bad credential ${auth}` },
          }),
        );
      });
    });
    const port = await listen(leaky);
    const ref = { name: "leaky", url: `http://127.0.0.1:${port}/mcp` };
    const token = "tok_echoed_by_server_77";
    const crashed = await rejection(listMcpTools(ref, staticBearerAuth(token)));
    expect(crashed).toBeInstanceOf(McpConnectionError);
    expect(crashed).toMatchObject({ status: 500 });
    expectNoSecrets(crashed, [token]);

    mode = "rpc-error";
    const rpc = await rejection(callMcpTool(ref, staticBearerAuth(token), "echo", {}));
    expect(rpc).toBeInstanceOf(McpConnectionError);
    expect(String(rpc)).toContain("bad credential");
    expect(String(rpc)).toContain("[redacted]");
    expectNoSecrets(rpc, [token]);
  });
});

describe("abort and timeout", () => {
  it("aborts an in-flight call via the signal", async () => {
    const { tool, started } = gatedTool();
    const server = await mcpServer({ tools: [tool] });
    const { provider } = vaultAuth(server);
    const ac = new AbortController();
    const pending = rejection(
      callMcpTool({ name: "t", url: server.url }, provider, "slow", {}, { signal: ac.signal }),
    );
    await started;
    ac.abort();
    expect(await pending).toMatchObject({ name: "AbortError" });

    const reason = new Error("session interrupted");
    const ac2 = new AbortController();
    ac2.abort(reason);
    expect(
      await rejection(listMcpTools({ name: "t", url: server.url }, provider, { signal: ac2.signal })),
    ).toBe(reason);
  });

  it("times out a call that never answers", async () => {
    const { tool, started } = gatedTool();
    const server = await mcpServer({ tools: [tool] });
    const { provider } = vaultAuth(server);
    const pending = rejection(
      callMcpTool({ name: "t", url: server.url }, provider, "slow", {}, { timeoutMs: 1000 }),
    );
    await started;
    const err = await pending;
    expect(err).toBeInstanceOf(McpConnectionError);
    expect(String(err)).toContain("timed out after 1000 ms");
    expectNoSecrets(err, [AT0]);
  });

  it("times out a server that accepts the connection but never responds", async () => {
    const sockets = new Set<Socket>();
    const silent = createTcpServer((s) => sockets.add(s));
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    cleanups.push(async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => silent.close(() => r()));
    });
    const { port } = silent.address() as { port: number };
    const err = await rejection(
      listMcpTools({ name: "silent", url: `http://127.0.0.1:${port}/mcp` }, staticBearerAuth(STATIC), {
        timeoutMs: 200,
      }),
    );
    expect(err).toBeInstanceOf(McpConnectionError);
    expect(err).toMatchObject({ serverName: "silent" });
    expect(String(err)).toContain("timed out after 200 ms");
    expectNoSecrets(err, [STATIC]);
  });
});
