/**
 * HTTPS through the proxy over real sockets: TLS terminated (with the egress CA) only for hosts a
 * secret or inject rule applies to, tunnelled untouched otherwise; plus curl through a stand-in
 * bridge, as tools in a sandbox use it.
 */
import { execFile } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type CertificateAuthority, createCertificateAuthority } from "./ca.js";
import type { EgressPolicy } from "./context.js";
import {
  openEagerTunnel,
  openTunnel,
  type ProxyFixture,
  rawConnection,
  readUntilClose,
  send,
  startBridge,
  startEcho,
  startHttpsUpstream,
  startHttpUpstream,
  startProxy,
  type Upstream,
} from "./test-support/harness.js";

const run = promisify(execFile);

const SECRET = "sk-live-TLS-REAL-SECRET-7";
const PH = "tnd_ph_tls0123456789abcdefghijklmnopqr";
const GIT_AUTH = `Basic ${Buffer.from("x-access-token:ghs_gitsecret").toString("base64")}`;

let upstreamCa: CertificateAuthority;
let api: Upstream;
let other: Upstream;
let plain: Upstream;
let echo: { port: number; close(): Promise<void> };
let fx: ProxyFixture;
let dir: string;

const policy = (network: EgressPolicy["network"] = { type: "unrestricted" }): EgressPolicy => ({
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
  inject: [{ credentialId: "cred_git", hosts: ["git.test"], headers: { Authorization: GIT_AUTH } }],
});

beforeAll(async () => {
  upstreamCa = await createCertificateAuthority({ commonName: "Test upstream CA" });
  api = await startHttpsUpstream("api", upstreamCa);
  other = await startHttpsUpstream("other", upstreamCa);
  plain = await startHttpUpstream("plain");
  echo = await startEcho();
  fx = await startProxy(
    policy(),
    {
      "api.test:443": api.port,
      "other.test:443": other.port,
      "git.test:443": other.port,
      "api.test:80": plain.port,
      "echo.test:7": echo.port,
    },
    { upstreamCa: [upstreamCa.certPem] },
  );
  dir = mkdtempSync(join(tmpdir(), "tendon-egress-test-"));
  writeFileSync(join(dir, "proxy-ca.pem"), fx.ca.certPem);
  writeFileSync(join(dir, "upstream-ca.pem"), upstreamCa.certPem);
});

afterEach(() => {
  fx.policy.current = policy();
});

afterAll(async () => {
  expect(JSON.stringify(other.received)).not.toContain(SECRET);
  expect(JSON.stringify(fx.records)).not.toContain(SECRET);
  expect(JSON.stringify(fx.records)).not.toContain("ghs_gitsecret");
  await fx?.close();
  await Promise.all([api?.close(), other?.close(), plain?.close(), echo?.close()]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("CONNECT to a host with a credential: TLS terminated", () => {
  it("presents a leaf from the egress CA and substitutes in headers and body, keep-alive included", async () => {
    const before = fx.records.length;
    const t = await openTunnel(fx, "api.test:443", [fx.ca.certPem]);
    expect(t.status).toBe(200);
    expect(t.peer?.issuer.CN).toBe("Tendon egress test CA");
    expect(t.peer?.subjectaltname).toBe("DNS:api.test");
    const agent = t.agent!;
    try {
      const one = await send(
        {
          method: "POST",
          path: "/v1/messages?beta=true",
          headers: { host: "api.test", "x-api-key": PH, "content-type": "application/json" },
          body: JSON.stringify({ key: PH }),
        },
        { agent },
      );
      const two = await send(
        { path: "/v1/models", headers: { host: "api.test", authorization: `Bearer ${PH}` } },
        { agent },
      );
      expect([one.status, two.status]).toEqual([200, 200]);
      expect([one.body, two.body]).toEqual(["api POST /v1/messages?beta=true", "api GET /v1/models"]);
      expect(two.reusedSocket).toBe(true);
    } finally {
      agent.destroy();
      t.tls?.destroy();
    }
    const [first, second] = api.received.slice(-2);
    expect(first?.headers["x-api-key"]).toBe(SECRET);
    expect(JSON.parse(first?.body ?? "")).toEqual({ key: SECRET });
    expect(second?.headers.authorization).toBe(`Bearer ${SECRET}`);
    const recs = await fx.waitRecords(2, before, (r) => r.host === "api.test" && r.method !== "CONNECT");
    expect(recs.map((r) => [r.method, r.scheme, r.host, r.port, r.status, r.credentialIds])).toEqual([
      ["POST", "https", "api.test", 443, 200, ["cred_api"]],
      ["GET", "https", "api.test", 443, 200, ["cred_api"]],
    ]);
  });

  it("replays a ClientHello sent in the same packet as the CONNECT", async () => {
    const t = await openEagerTunnel(fx, "api.test:443", [fx.ca.certPem]);
    try {
      expect(t.peer?.issuer.CN).toBe("Tendon egress test CA");
      const r = await send(
        { path: "/eager", headers: { host: "api.test", authorization: `Bearer ${PH}` } },
        { agent: t.agent! },
      );
      expect(r.body).toBe("api GET /eager");
      expect(api.received.at(-1)?.headers.authorization).toBe(`Bearer ${SECRET}`);
    } finally {
      t.agent?.destroy();
      t.tls?.destroy();
    }
  });

  it("injects the git Authorization header for git hosts", async () => {
    const t = await openTunnel(fx, "git.test:443", [fx.ca.certPem]);
    try {
      expect(t.peer?.issuer.CN).toBe("Tendon egress test CA");
      await send(
        { path: "/org/repo.git/info/refs?service=git-upload-pack", headers: { host: "git.test" } },
        { agent: t.agent! },
      );
    } finally {
      t.agent?.destroy();
      t.tls?.destroy();
    }
    const got = other.received.at(-1);
    expect(got?.url).toBe("/org/repo.git/info/refs?service=git-upload-pack");
    expect(got?.headers.authorization).toBe(GIT_AUTH);
  });

  it("refuses a request whose Host names another host (no domain fronting)", async () => {
    const n = other.received.length + api.received.length;
    const t = await openTunnel(fx, "api.test:443", [fx.ca.certPem]);
    try {
      const r = await send(
        { path: "/front", headers: { host: "other.test", authorization: `Bearer ${PH}` } },
        { agent: t.agent! },
      );
      expect(r.status).toBe(421);
    } finally {
      t.agent?.destroy();
      t.tls?.destroy();
    }
    expect(other.received.length + api.received.length).toBe(n);
  });

  it("records a client that does not trust the egress CA", async () => {
    const before = fx.records.length;
    await expect(openTunnel(fx, "api.test:443", [upstreamCa.certPem])).rejects.toThrow();
    const [rec] = await fx.waitRecords(1, before, (r) => r.host === "api.test" && r.method === "CONNECT");
    expect(rec).toMatchObject({ method: "CONNECT", host: "api.test", status: null, blocked: false });
    expect(rec?.reason).toContain("does the sandbox trust the egress CA?");
  });

  it("verifies the upstream certificate", async () => {
    const strict = await startProxy(policy(), { "api.test:443": api.port });
    try {
      const t = await openTunnel(strict, "api.test:443", [strict.ca.certPem]);
      const r = await send(
        { path: "/untrusted", headers: { host: "api.test", authorization: `Bearer ${PH}` } },
        { agent: t.agent! },
      );
      t.agent?.destroy();
      t.tls?.destroy();
      expect(r).toMatchObject({ status: 502, body: "upstream unreachable\n" });
      expect(api.received.some((x) => x.url === "/untrusted")).toBe(false);
    } finally {
      await strict.close();
    }
  });
});

describe("CONNECT to a host without credentials: tunnelled", () => {
  it("passes the client's TLS through to the real server and the placeholder unchanged", async () => {
    const before = fx.records.length;
    const t = await openTunnel(fx, "other.test:443", [upstreamCa.certPem]);
    expect(t.status).toBe(200);
    expect(t.peer?.issuer.CN).toBe("Test upstream CA");
    expect(t.peer?.subjectaltname).toBe("DNS:other.test");
    try {
      const r = await send(
        {
          method: "POST",
          path: "/tunnelled",
          headers: { host: "other.test", authorization: `Bearer ${PH}` },
          body: PH,
        },
        { agent: t.agent! },
      );
      expect(r.body).toBe("other POST /tunnelled");
    } finally {
      t.agent?.destroy();
      t.tls?.destroy();
    }
    const got = other.received.at(-1);
    expect(got?.headers.authorization).toBe(`Bearer ${PH}`);
    expect(got?.body).toBe(PH);
    const [rec] = await fx.waitRecords(1, before, (r) => r.host === "other.test" && r.method === "CONNECT");
    expect(rec).toMatchObject({
      method: "CONNECT",
      scheme: "https",
      host: "other.test",
      port: 443,
      status: 200,
      blocked: false,
      credentialIds: [],
    });
    expect(rec?.bytesOut).toBeGreaterThan(0);
    expect(rec?.bytesIn).toBeGreaterThan(0);
  });

  it("replays bytes sent right after the CONNECT head", async () => {
    const s = await rawConnection(fx.port, fx.preamble());
    s.write("CONNECT echo.test:7 HTTP/1.1\r\nHost: echo.test:7\r\n\r\nping");
    let got = "";
    while (!got.endsWith("ping")) got += String((await once(s, "data"))[0]);
    s.destroy();
    expect(got).toBe("HTTP/1.1 200 Connection Established\r\n\r\nping");
  });
});

describe("CONNECT and the network policy", () => {
  it("refuses hosts off a limited list, IP literals included, with a reason", async () => {
    fx.policy.current = policy({ type: "limited", allowedHosts: ["api.test:443"] });
    const before = fx.records.length;
    for (const target of ["other.test:443", "192.0.2.10:443", "api.test:8443"]) {
      const t = await openTunnel(fx, target, [fx.ca.certPem]);
      expect(t.status, target).toBe(403);
      expect(t.head).toContain("host not on this environment's allow-list");
      t.socket.destroy();
    }
    const recs = await fx.waitRecords(3, before, (r) => r.blocked);
    expect(recs.map((r) => [r.host, r.port, r.blocked, r.status])).toEqual([
      ["other.test", 443, true, 403],
      ["192.0.2.10", 443, true, 403],
      ["api.test", 8443, true, 403],
    ]);
  });

  it("refuses everything with an empty list", async () => {
    fx.policy.current = policy({ type: "limited", allowedHosts: [] });
    const s = await rawConnection(fx.port, fx.preamble());
    s.write("CONNECT api.test:443 HTTP/1.1\r\nHost: api.test:443\r\n\r\n");
    expect(await readUntilClose(s)).toMatch(
      /^HTTP\/1\.1 403 Forbidden\r\n[\s\S]*\r\n\r\nhost not on this environment's allow-list\n$/,
    );
  });
});

describe("curl through a bridge", () => {
  it("gets the secret substituted over HTTPS and HTTP, and tunnels other hosts", async () => {
    const bridge = await startBridge(fx);
    const proxy = `http://127.0.0.1:${bridge.port}`;
    try {
      const https = await run("curl", [
        "-sS",
        "--proxy",
        proxy,
        "--cacert",
        join(dir, "proxy-ca.pem"),
        "-H",
        `Authorization: Bearer ${PH}`,
        "-H",
        "Content-Type: application/x-www-form-urlencoded",
        "--data",
        `token=${PH}`,
        "https://api.test/curl",
      ]);
      expect(https.stdout).toBe("api POST /curl");
      expect(api.received.at(-1)).toMatchObject({
        body: `token=${encodeURIComponent(SECRET)}`,
        headers: { authorization: `Bearer ${SECRET}` },
      });

      const http = await run("curl", [
        "-sS",
        "--proxy",
        proxy,
        "-H",
        `X-Key: ${PH}`,
        "http://api.test/plain",
      ]);
      expect(http.stdout).toBe("plain GET /plain");
      expect(plain.received.at(-1)?.headers["x-key"]).toBe(SECRET);

      const tunnelled = await run("curl", [
        "-sS",
        "--proxy",
        proxy,
        "--cacert",
        join(dir, "upstream-ca.pem"),
        "-H",
        `X-Key: ${PH}`,
        "https://other.test/t",
      ]);
      expect(tunnelled.stdout).toBe("other GET /t");
      expect(other.received.at(-1)?.headers["x-key"]).toBe(PH);

      fx.policy.current = policy({ type: "limited", allowedHosts: ["api.test"] });
      const blocked = await run("curl", [
        "-s",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "--proxy",
        proxy,
        "http://other.test/x",
      ]);
      expect(blocked.stdout).toBe("403");
    } finally {
      await bridge.close();
    }
  });
});
