import { afterEach, describe, expect, it } from "vitest";
import { startTestMcpServer, type TestMcpServer } from "./index.js";

const servers: TestMcpServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.stop();
});

async function start(clientSecret?: string): Promise<TestMcpServer> {
  const s = await startTestMcpServer({
    oauth: {
      clientId: "cid",
      ...(clientSecret ? { clientSecret } : {}),
      accessTtlMs: 60_000,
      initialAccessToken: "at_0",
      initialRefreshToken: "rt_0",
    },
  });
  servers.push(s);
  return s;
}

const initialize = JSON.stringify({
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "0" } },
});

function post(url: string, token: string | undefined): Promise<Response> {
  return fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: initialize,
  });
}

function refresh(s: TestMcpServer, form: Record<string, string>, headers: Record<string, string> = {}) {
  return fetch(s.tokenEndpoint, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
    body: new URLSearchParams(form),
  });
}

describe("startTestMcpServer", () => {
  it("listens on 127.0.0.1 and answers 401 with WWW-Authenticate for missing, wrong or expired tokens", async () => {
    const s = await start();
    expect(s.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/mcp$/);
    expect(s.tokenEndpoint).toBe(s.url.replace(/\/mcp$/, "/oauth/token"));

    for (const token of [undefined, "wrong"]) {
      const res = await post(s.url, token);
      expect(res.status).toBe(401);
      expect(res.headers.get("www-authenticate")).toMatch(/^Bearer error="invalid_token"/);
      await res.body?.cancel();
    }
    const ok = await post(s.url, "at_0");
    expect(ok.status).toBe(200);
    expect(ok.headers.get("mcp-session-id")).toBeTruthy();
    await ok.body?.cancel();

    s.expireAccessToken();
    const expired = await post(s.url, "at_0");
    expect(expired.status).toBe(401);
    await expired.body?.cancel();
    expect(s.seenTokens()).toEqual(["wrong", "at_0", "at_0"]);
  });

  it("rotates refresh tokens and revokes the previous access token", async () => {
    const s = await start();
    const res = await refresh(s, { grant_type: "refresh_token", refresh_token: "rt_0", client_id: "cid" });
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const body = (await res.json()) as Record<string, unknown>;
    const [first, second] = s.issued();
    expect(first).toMatchObject({ accessToken: "at_0", refreshToken: "rt_0" });
    expect(body).toEqual({
      access_token: second!.accessToken,
      token_type: "Bearer",
      expires_in: 60,
      refresh_token: second!.refreshToken,
    });

    const old = await post(s.url, "at_0");
    expect(old.status).toBe(401);
    await old.body?.cancel();
    const fresh = await post(s.url, second!.accessToken);
    expect(fresh.status).toBe(200);
    await fresh.body?.cancel();

    const reuse = await refresh(s, { grant_type: "refresh_token", refresh_token: "rt_0", client_id: "cid" });
    expect(reuse.status).toBe(400);
    expect(await reuse.json()).toMatchObject({ error: "invalid_grant" });
    const grant = await refresh(s, { grant_type: "client_credentials", client_id: "cid" });
    expect(await grant.json()).toMatchObject({ error: "unsupported_grant_type" });
  });

  it("checks client authentication against the configured method", async () => {
    const s = await start("sec");
    const base = { grant_type: "refresh_token", refresh_token: "rt_0" };
    const none = await refresh(s, { ...base, client_id: "cid" });
    expect(none.status).toBe(401);
    expect(await none.json()).toMatchObject({ error: "invalid_client" });
    const wrongBasic = await refresh(s, base, {
      authorization: `Basic ${Buffer.from("cid:nope").toString("base64")}`,
    });
    expect(wrongBasic.status).toBe(401);
    expect(wrongBasic.headers.get("www-authenticate")).toMatch(/^Basic/);
    await wrongBasic.body?.cancel();
    const both = await refresh(
      s,
      { ...base, client_secret: "sec" },
      { authorization: `Basic ${Buffer.from("cid:sec").toString("base64")}` },
    );
    expect(await both.json()).toMatchObject({ error: "invalid_request" });
    const post_ = await refresh(s, { ...base, client_id: "cid", client_secret: "sec" });
    expect(post_.status).toBe(200);
    await post_.body?.cancel();
    expect(s.tokenRequests().map((r) => [r.authMethod, r.error])).toEqual([
      ["none", "invalid_client"],
      ["client_secret_basic", "invalid_client"],
      ["client_secret_basic", "invalid_request"],
      ["client_secret_post", undefined],
    ]);
  });
});
