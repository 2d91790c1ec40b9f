/**
 * The proxy over real loopback sockets: preamble checks, allow-lists, plain-HTTP substitution,
 * records and keep-alive. Fake host names resolve to local upstreams through `resolve`.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { EgressPolicy } from "./context.js";
import {
  ProxyAgent,
  type ProxyFixture,
  rawConnection,
  readUntilClose,
  send,
  startHttpUpstream,
  startProxy,
  type Upstream,
  viaProxy,
} from "./test-support/harness.js";

const SECRET = "sk-live-THE-REAL-SECRET-42";
const PH = "tnd_ph_0123456789abcdefghijklmnopqrstuv";

let api: Upstream;
let other: Upstream;
let fx: ProxyFixture;

const withCredential = (
  network: EgressPolicy["network"],
  over: Partial<EgressPolicy> = {},
): EgressPolicy => ({
  network,
  credentials: [
    {
      id: "cred_api",
      vaultId: "vlt_1",
      placeholder: PH,
      secret: SECRET,
      allowedHosts: ["api.test"],
      injection: { header: true, body: true },
    },
  ],
  ...over,
});

beforeAll(async () => {
  api = await startHttpUpstream("api");
  other = await startHttpUpstream("other");
  fx = await startProxy(withCredential({ type: "unrestricted" }), {
    "api.test:80": api.port,
    "other.test:80": other.port,
    "192.0.2.10:8080": other.port,
    "git.test:80": other.port,
  });
});

afterEach(() => {
  fx.policy.current = withCredential({ type: "unrestricted" });
});

afterAll(async () => {
  // Whatever else happened, the only upstream that may ever have seen the secret is api.test.
  expect(JSON.stringify(other.received)).not.toContain(SECRET);
  expect(JSON.stringify(fx.records)).not.toContain(SECRET);
  await fx?.close();
  await api?.close();
  await other?.close();
});

describe("identity preamble", () => {
  it("closes a connection that starts without one, without answering", async () => {
    const s = await rawConnection(fx.port, null);
    s.write("GET http://api.test/ HTTP/1.1\r\nHost: api.test\r\n\r\n");
    expect(await readUntilClose(s)).toBe("");
  });

  it("closes a connection whose preamble is forged", async () => {
    const s = await rawConnection(fx.port, fx.preamble({ secret: Buffer.from("someone-else's-secret") }));
    s.write("GET http://api.test/ HTTP/1.1\r\nHost: api.test\r\n\r\n");
    expect(await readUntilClose(s)).toBe("");
  });

  it("closes a connection whose preamble has expired and records it as blocked", async () => {
    const before = fx.records.length;
    const s = await rawConnection(fx.port, fx.preamble({ ttlMs: -1_000 }));
    s.write("GET http://api.test/ HTTP/1.1\r\nHost: api.test\r\n\r\n");
    expect(await readUntilClose(s)).toBe("");
    const [rec] = await fx.waitRecords(1, before, (r) => r.reason === "identity preamble expired");
    expect(rec).toMatchObject({
      blocked: true,
      sessionId: fx.id.sessionId,
      reason: "identity preamble expired",
    });
  });

  it("closes a connection whose first line is too long to be a preamble", async () => {
    const s = await rawConnection(fx.port, `TENDON-EGRESS ${"x".repeat(4096)}`);
    expect(await readUntilClose(s)).toBe("");
  });

  it("serves a request that arrives in the same packet as the preamble", async () => {
    const s = await rawConnection(fx.port, null);
    s.write(
      `${fx.preamble()}GET http://api.test/same-packet HTTP/1.1\r\nHost: api.test\r\nConnection: close\r\n\r\n`,
    );
    expect(await readUntilClose(s)).toMatch(/^HTTP\/1\.1 200 OK[\s\S]*api GET \/same-packet$/);
  });
});

describe("network policy", () => {
  it("forwards to an allowed host and refuses one not on a limited list", async () => {
    fx.policy.current = withCredential({ type: "limited", allowedHosts: ["api.test"] });
    const ok = await viaProxy(fx, "http://api.test/hello");
    expect(ok).toMatchObject({ status: 200, body: "api GET /hello" });
    const before = fx.records.length;
    const no = await viaProxy(fx, "http://other.test/hello");
    expect(no.status).toBe(403);
    expect(no.body).toBe("host not on this environment's allow-list\n");
    expect(other.received.some((r) => r.url === "/hello")).toBe(false);
    const [rec] = await fx.waitRecords(1, before, (r) => r.blocked);
    expect(rec).toMatchObject({
      host: "other.test",
      port: 80,
      status: 403,
      blocked: true,
      method: "GET",
      scheme: "http",
    });
  });

  it("allows any host when unrestricted and none with an empty list", async () => {
    expect((await viaProxy(fx, "http://other.test/u")).status).toBe(200);
    fx.policy.current = withCredential({ type: "limited", allowedHosts: [] });
    expect((await viaProxy(fx, "http://api.test/u")).status).toBe(403);
    expect((await viaProxy(fx, "http://192.0.2.10:8080/u")).status).toBe(403);
  });

  it("applies IPv4 and wildcard rules, ports included", async () => {
    fx.policy.current = withCredential({ type: "limited", allowedHosts: ["192.0.2.10:8080", "*.test"] });
    expect(await viaProxy(fx, "http://192.0.2.10:8080/ip")).toMatchObject({
      status: 200,
      body: "other GET /ip",
    });
    expect((await viaProxy(fx, "http://192.0.2.11:8080/ip")).status).toBe(403);
    expect((await viaProxy(fx, "http://192.0.2.10:8081/ip")).status).toBe(403);
    expect((await viaProxy(fx, "http://api.test/w")).status).toBe(200);
    fx.policy.current = withCredential({ type: "limited", allowedHosts: ["*.api.test"] });
    expect((await viaProxy(fx, "http://api.test/w")).status).toBe(403);
  });

  it("answers a request that is not absolute-form with 400", async () => {
    const s = await rawConnection(fx.port, fx.preamble());
    expect((await send({ path: "/relative", headers: { host: "api.test" } }, { socket: s })).status).toBe(
      400,
    );
    s.destroy();
  });

  it("fails closed when the policy cannot be looked up", async () => {
    const broken = await startProxy(
      withCredential({ type: "unrestricted" }),
      { "api.test:80": api.port },
      {
        policyFor: async () => {
          throw new Error("db down");
        },
      },
    );
    try {
      const reply = await viaProxy(broken, "http://api.test/x");
      expect(reply.status).toBe(503);
      expect((await broken.waitRecords(1))[0]).toMatchObject({ blocked: true, status: 503 });
    } finally {
      await broken.close();
    }
  });
});

describe("internal addresses with the default resolver", () => {
  it("refuses names and literals that resolve to loopback unless allowed", async () => {
    const strict = await startProxy(
      { network: { type: "unrestricted" }, credentials: [] },
      {},
      { resolve: undefined },
    );
    const lax = await startProxy(
      { network: { type: "unrestricted" }, credentials: [] },
      {},
      {
        resolve: undefined,
        allowInternalAddresses: true,
      },
    );
    try {
      for (const url of [
        `http://127.0.0.1:${api.port}/x`,
        `http://localhost:${api.port}/x`,
        `http://0x7f.1:${api.port}/x`,
      ]) {
        const r = await viaProxy(strict, url);
        expect(r.status, url).toBe(403);
        expect(r.body).toContain("loopback");
      }
      expect(await viaProxy(lax, `http://127.0.0.1:${api.port}/direct`)).toMatchObject({
        status: 200,
        body: "api GET /direct",
      });
    } finally {
      await strict.close();
      await lax.close();
    }
  });
});

describe("substitution over plain HTTP", () => {
  it("writes the secret into headers and body for the credential's host, fixing Content-Length", async () => {
    const body = JSON.stringify({ token: PH, note: "keep me" });
    const reply = await viaProxy(fx, "http://api.test/v1/things?x=1", {
      method: "POST",
      headers: { authorization: `Bearer ${PH}`, "x-api-key": PH, "content-type": "application/json" },
      body,
    });
    expect(reply.status).toBe(200);
    const got = api.received.at(-1)!;
    expect(got.url).toBe("/v1/things?x=1");
    expect(got.headers.authorization).toBe(`Bearer ${SECRET}`);
    expect(got.headers["x-api-key"]).toBe(SECRET);
    expect(JSON.parse(got.body)).toEqual({ token: SECRET, note: "keep me" });
    expect(Number(got.headers["content-length"])).toBe(Buffer.byteLength(got.body));
    expect(got.headers.host).toBe("api.test");
  });

  it("sends the placeholder unchanged to another allowed host", async () => {
    await viaProxy(fx, "http://other.test/elsewhere", {
      method: "POST",
      headers: { authorization: `Bearer ${PH}`, "content-type": "text/plain" },
      body: `token=${PH}`,
    });
    const got = other.received.at(-1)!;
    expect(got.headers.authorization).toBe(`Bearer ${PH}`);
    expect(got.body).toBe(`token=${PH}`);
  });

  it("leaves a disabled location alone", async () => {
    fx.policy.current = withCredential({ type: "unrestricted" });
    fx.policy.current.credentials[0]!.injection = { header: true, body: false };
    await viaProxy(fx, "http://api.test/header-only", {
      method: "POST",
      headers: { authorization: `Bearer ${PH}` },
      body: PH,
    });
    const got = api.received.at(-1)!;
    expect(got.headers.authorization).toBe(`Bearer ${SECRET}`);
    expect(got.body).toBe(PH);
  });

  it("substitutes in a chunked body and in git-style Basic credentials", async () => {
    const s = await rawConnection(fx.port, fx.preamble());
    const basic = Buffer.from(`x-access-token:${PH}`).toString("base64");
    s.write(
      `POST http://api.test/chunked HTTP/1.1\r\nHost: api.test\r\nAuthorization: Basic ${basic}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n` +
        `4\r\nkey=\r\n${PH.length.toString(16)}\r\n${PH}\r\n0\r\n\r\n`,
    );
    expect(await readUntilClose(s)).toMatch(/^HTTP\/1\.1 200/);
    const got = api.received.at(-1)!;
    expect(got.body).toBe(`key=${SECRET}`);
    expect(got.headers["transfer-encoding"]).toBeUndefined();
    expect(Number(got.headers["content-length"])).toBe(4 + SECRET.length);
    expect(Buffer.from(got.headers.authorization!.slice(6), "base64").toString()).toBe(
      `x-access-token:${SECRET}`,
    );
  });

  it("streams bodies over maxBodyBytes untouched and says so in the record", async () => {
    const small = await startProxy(
      withCredential({ type: "unrestricted" }),
      { "api.test:80": api.port },
      { maxBodyBytes: 64 },
    );
    try {
      const body = `${PH}${"x".repeat(200)}`;
      expect(
        (
          await viaProxy(small, "http://api.test/big", {
            method: "POST",
            headers: { authorization: `Bearer ${PH}` },
            body,
          })
        ).status,
      ).toBe(200);
      const got = api.received.at(-1)!;
      expect(got.body).toBe(body);
      expect(got.headers.authorization).toBe(`Bearer ${SECRET}`);
      const [rec] = await small.waitRecords(1);
      expect(rec?.reason).toContain("maxBodyBytes");
      expect(rec?.bytesOut).toBe(body.length);
    } finally {
      await small.close();
    }
  });

  it("never splits a header with a secret that is not a valid header value", async () => {
    fx.policy.current = withCredential({ type: "unrestricted" });
    fx.policy.current.credentials[0]!.secret = "x\r\nX-Smuggled: 1";
    const n = api.received.length;
    const reply = await viaProxy(fx, "http://api.test/smuggle", {
      headers: { authorization: `Bearer ${PH}` },
    });
    expect(reply).toMatchObject({ status: 502, body: "request could not be forwarded\n" });
    expect(api.received.length).toBe(n);
  });

  it("injects configured headers for matching hosts only", async () => {
    const auth = `Basic ${Buffer.from("x-access-token:ghs_realtoken").toString("base64")}`;
    fx.policy.current = withCredential(
      { type: "unrestricted" },
      {
        inject: [{ credentialId: "cred_git", hosts: ["git.test"], headers: { Authorization: auth } }],
      },
    );
    await viaProxy(fx, "http://git.test/org/repo.git/info/refs?service=git-upload-pack", {
      headers: { authorization: "Basic Zm9vOmJhcg==" },
    });
    expect(other.received.at(-1)!.headers.authorization).toBe(auth);
    await viaProxy(fx, "http://other.test/not-git");
    expect(other.received.at(-1)!.headers.authorization).toBeUndefined();
  });
});

describe("records", () => {
  it("carry host, status, bytes and credential ids, never secrets, paths or query strings", async () => {
    const before = fx.records.length;
    await viaProxy(fx, `http://api.test/private/path?token=${PH}&q=needle`, {
      method: "POST",
      headers: { authorization: `Bearer ${PH}` },
      body: "hello",
    });
    const [rec] = await fx.waitRecords(1, before);
    expect(rec).toMatchObject({
      sessionId: "sesn_test",
      sandboxId: "sbx_test",
      method: "POST",
      scheme: "http",
      host: "api.test",
      port: 80,
      status: 200,
      bytesOut: 5,
      bytesIn: Buffer.byteLength(`api POST /private/path?token=${PH}&q=needle`),
      credentialIds: ["cred_api"],
      blocked: false,
    });
    const text = JSON.stringify(fx.records);
    for (const banned of [SECRET, "needle", "/private/path", "Bearer"]) expect(text).not.toContain(banned);
  });
});

describe("keep-alive", () => {
  it("serves several requests on one proxy connection", async () => {
    const agent = new ProxyAgent(fx);
    try {
      const a = await send({ path: "http://api.test/one" }, { agent });
      const b = await send({ path: "http://other.test/two" }, { agent });
      const c = await send({ path: "http://api.test/three", body: PH }, { agent });
      expect([a.body, b.body, c.body]).toEqual(["api GET /one", "other GET /two", "api POST /three"]);
      expect([a.reusedSocket, b.reusedSocket, c.reusedSocket]).toEqual([false, true, true]);
      expect(agent.connections).toBe(1);
      expect(api.received.at(-1)!.body).toBe(SECRET);
    } finally {
      agent.destroy();
    }
  });
});
