import { createServer, type Server } from "node:http";
import { createServer as createTcpServer, type Socket } from "node:net";
import { inspect } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { McpAuthenticationError, McpConnectionError } from "./errors.js";
import { type OAuthRefreshParams, refreshOAuthToken } from "./oauth.js";
import { startTestMcpServer, type TestMcpServer } from "./testing/index.js";

const CLIENT_ID = "tendon-client";
const SECRET = "cs_super_secret_value_123";
const RT0 = "rt_initial_refresh_token_abc";
const AT0 = "at_initial_access_token_xyz";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function tokenServer(clientSecret?: string): Promise<TestMcpServer> {
  const server = await startTestMcpServer({
    oauth: {
      clientId: CLIENT_ID,
      ...(clientSecret ? { clientSecret } : {}),
      accessTtlMs: 3_600_000,
      initialAccessToken: AT0,
      initialRefreshToken: RT0,
    },
  });
  cleanups.push(() => server.stop());
  return server;
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

/** A port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const s = createTcpServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const { port } = s.address() as { port: number };
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe("refreshOAuthToken", () => {
  it("refreshes a public client with auth none (client_id in the body) and rotates", async () => {
    const server = await tokenServer();
    const params: OAuthRefreshParams = {
      tokenEndpoint: server.tokenEndpoint,
      clientId: CLIENT_ID,
      refreshToken: RT0,
      auth: { type: "none" },
    };
    const tokens = await refreshOAuthToken(params, { now: () => Date.parse("2030-01-01T00:00:00Z") });
    const latest = server.issued().at(-1)!;
    expect(tokens).toEqual({
      accessToken: latest.accessToken,
      refreshToken: latest.refreshToken,
      expiresAt: "2030-01-01T01:00:00.000Z",
    });
    expect(server.tokenRequests()).toEqual([
      {
        authMethod: "none",
        clientId: CLIENT_ID,
        grantType: "refresh_token",
        scope: undefined,
        resource: undefined,
        error: undefined,
      },
    ]);
    // The used refresh token is gone; the rotated one works.
    const reused = await rejection(refreshOAuthToken(params));
    expect(reused).toBeInstanceOf(McpAuthenticationError);
    expect((reused as McpAuthenticationError).oauthError).toBe("invalid_grant");
    await refreshOAuthToken({ ...params, refreshToken: tokens.refreshToken! });
    expect(server.issued()).toHaveLength(3);
  });

  it("authenticates with client_secret_basic and forwards scope and resource", async () => {
    const server = await tokenServer(SECRET);
    const tokens = await refreshOAuthToken({
      tokenEndpoint: server.tokenEndpoint,
      clientId: CLIENT_ID,
      refreshToken: RT0,
      auth: { type: "client_secret_basic", clientSecret: SECRET },
      scope: "tools:read tools:call",
      resource: "https://mcp.example.test/mcp",
    });
    expect(tokens.accessToken).toBe(server.issued().at(-1)!.accessToken);
    expect(tokens.scope).toBe("tools:read tools:call");
    expect(server.tokenRequests()).toEqual([
      {
        authMethod: "client_secret_basic",
        clientId: CLIENT_ID,
        grantType: "refresh_token",
        scope: "tools:read tools:call",
        resource: "https://mcp.example.test/mcp",
        error: undefined,
      },
    ]);
  });

  it("form-encodes client_secret_basic credentials (RFC 6749 §2.3.1)", async () => {
    const odd = "s3cr:et/with+special chars%";
    const server = await startTestMcpServer({
      oauth: {
        clientId: "id:with space",
        clientSecret: odd,
        accessTtlMs: 60_000,
        initialAccessToken: AT0,
        initialRefreshToken: RT0,
      },
    });
    cleanups.push(() => server.stop());
    await refreshOAuthToken({
      tokenEndpoint: server.tokenEndpoint,
      clientId: "id:with space",
      refreshToken: RT0,
      auth: { type: "client_secret_basic", clientSecret: odd },
    });
    expect(server.tokenRequests()[0]).toMatchObject({ authMethod: "client_secret_basic", error: undefined });
  });

  it("authenticates with client_secret_post", async () => {
    const server = await tokenServer(SECRET);
    await refreshOAuthToken({
      tokenEndpoint: server.tokenEndpoint,
      clientId: CLIENT_ID,
      refreshToken: RT0,
      auth: { type: "client_secret_post", clientSecret: SECRET },
    });
    expect(server.tokenRequests()).toMatchObject([{ authMethod: "client_secret_post", error: undefined }]);
  });

  it("rejects a wrong secret or a missing client authentication as invalid_client, without leaking", async () => {
    const server = await tokenServer(SECRET);
    const wrong = "cs_wrong_secret_456";
    for (const type of ["client_secret_basic", "client_secret_post"] as const) {
      const err = await rejection(
        refreshOAuthToken({
          tokenEndpoint: server.tokenEndpoint,
          clientId: CLIENT_ID,
          refreshToken: RT0,
          auth: { type, clientSecret: wrong },
        }),
      );
      expect(err).toBeInstanceOf(McpAuthenticationError);
      expect(err).toMatchObject({ status: 401, oauthError: "invalid_client" });
      expectNoSecrets(err, [wrong, RT0, SECRET]);
    }
    const none = await rejection(
      refreshOAuthToken({
        tokenEndpoint: server.tokenEndpoint,
        clientId: CLIENT_ID,
        refreshToken: RT0,
        auth: { type: "none" },
      }),
    );
    expect(none).toMatchObject({ oauthError: "invalid_client" });
    expect(server.tokenRequests().map((r) => [r.authMethod, r.error])).toEqual([
      ["client_secret_basic", "invalid_client"],
      ["client_secret_post", "invalid_client"],
      ["none", "invalid_client"],
    ]);
    expect(server.issued()).toHaveLength(1);
  });

  it("scrubs secrets a token endpoint echoes back in its error", async () => {
    const echo: Server = createServer((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => {
        body += c.toString();
      });
      req.on("end", () => {
        res.writeHead(400, { "content-type": "application/json" });
        res.end(
          JSON.stringify({
            error: "invalid_grant",
            error_description: `rejected ${body} with ${req.headers.authorization ?? "-"} (raw secret ${SECRET}, token ${RT0})`,
          }),
        );
      });
    });
    await new Promise<void>((r) => echo.listen(0, "127.0.0.1", r));
    cleanups.push(() => new Promise<void>((r) => echo.close(() => r())));
    const { port } = echo.address() as { port: number };
    for (const type of ["client_secret_basic", "client_secret_post"] as const) {
      const err = await rejection(
        refreshOAuthToken({
          tokenEndpoint: `http://127.0.0.1:${port}/token`,
          clientId: CLIENT_ID,
          refreshToken: RT0,
          auth: { type, clientSecret: SECRET },
        }),
      );
      expect(err).toBeInstanceOf(McpAuthenticationError);
      expect(String(err)).toContain("invalid_grant");
      expect(String(err)).toContain("[redacted]");
      const basic = Buffer.from(`${CLIENT_ID}:${SECRET}`).toString("base64");
      expectNoSecrets(err, [SECRET, RT0, encodeURIComponent(SECRET), basic]);
    }
  });

  it("maps an unreachable endpoint to McpConnectionError", async () => {
    const port = await closedPort();
    const err = await rejection(
      refreshOAuthToken({
        tokenEndpoint: `http://127.0.0.1:${port}/oauth/token?key=${SECRET}`,
        clientId: CLIENT_ID,
        refreshToken: RT0,
        auth: { type: "client_secret_post", clientSecret: SECRET },
      }),
    );
    expect(err).toBeInstanceOf(McpConnectionError);
    expect(String(err)).toContain("ECONNREFUSED");
    expectNoSecrets(err, [SECRET, RT0]);
  });

  it("times out against an endpoint that never answers, and honours abort", async () => {
    const sockets = new Set<Socket>();
    const silent = createTcpServer((s) => sockets.add(s));
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    cleanups.push(async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => silent.close(() => r()));
    });
    const { port } = silent.address() as { port: number };
    const params: OAuthRefreshParams = {
      tokenEndpoint: `http://127.0.0.1:${port}/token`,
      clientId: CLIENT_ID,
      refreshToken: RT0,
      auth: { type: "none" },
    };
    const timedOut = await rejection(refreshOAuthToken(params, { timeoutMs: 200 }));
    expect(timedOut).toBeInstanceOf(McpConnectionError);
    expect(String(timedOut)).toContain("timed out after 200 ms");

    const ac = new AbortController();
    const pending = rejection(refreshOAuthToken(params, { signal: ac.signal }));
    ac.abort();
    expect(await pending).toMatchObject({ name: "AbortError" });
    const already = await rejection(refreshOAuthToken(params, { signal: AbortSignal.abort() }));
    expect(already).toMatchObject({ name: "AbortError" });
  });

  it("treats a response without access_token and a 5xx as connection errors", async () => {
    let mode: "empty" | "500" = "empty";
    const odd: Server = createServer((_req, res) => {
      if (mode === "500") {
        res.writeHead(500).end("boom");
        return;
      }
      res
        .writeHead(200, { "content-type": "application/json" })
        .end(JSON.stringify({ token_type: "Bearer" }));
    });
    await new Promise<void>((r) => odd.listen(0, "127.0.0.1", r));
    cleanups.push(() => new Promise<void>((r) => odd.close(() => r())));
    const { port } = odd.address() as { port: number };
    const params: OAuthRefreshParams = {
      tokenEndpoint: `http://127.0.0.1:${port}/token`,
      clientId: CLIENT_ID,
      refreshToken: RT0,
      auth: { type: "none" },
    };
    expect(await rejection(refreshOAuthToken(params))).toMatchObject({
      name: "McpConnectionError",
      message: expect.stringContaining("no access_token"),
    });
    mode = "500";
    expect(await rejection(refreshOAuthToken(params))).toMatchObject({
      name: "McpConnectionError",
      status: 500,
    });
  });
});
