/**
 * A sandbox's one way out: the egress socket, served inside as an HTTP proxy on 127.0.0.1. Tools
 * find it through HTTP(S)_PROXY and trust the proxy's CA; nothing else of the network exists.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bash, type Fixture, startFixture, text } from "../test-support/fixtures.js";

let fx: Fixture;
let dir: string;
let proxy: Server;
const seen: string[] = [];

beforeAll(async () => {
  fx = await startFixture();
  dir = mkdtempSync(path.join(os.tmpdir(), "tendon-egress-"));
  chmodSync(dir, 0o755);
  // A stand-in for the egress proxy: answers every request on the socket and records its head.
  proxy = createServer((c) => {
    c.once("data", (b) => {
      seen.push(b.toString("utf8").split("\r\n")[0] ?? "");
      c.end("HTTP/1.1 200 OK\r\nContent-Length: 16\r\nConnection: close\r\n\r\nhello via egress");
    });
  });
  await new Promise<void>((r) => proxy.listen(path.join(dir, "egress.sock"), r));
  chmodSync(path.join(dir, "egress.sock"), 0o666);
  writeFileSync(path.join(dir, "ca.pem"), "-----BEGIN CERTIFICATE-----\nTEST\n-----END CERTIFICATE-----\n");
  writeFileSync(path.join(dir, "bundle.pem"), "bundle\n");
  chmodSync(path.join(dir, "ca.pem"), 0o644);
  chmodSync(path.join(dir, "bundle.pem"), 0o644);
});

afterAll(async () => {
  await fx?.close();
  proxy?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("egress", () => {
  it("reaches the outside only through the socket, as an HTTP proxy", async () => {
    const sandbox = await fx.provider.create({
      id: fx.id("egress"),
      egress: {
        socketPath: path.join(dir, "egress.sock"),
        caCertPath: path.join(dir, "ca.pem"),
        caBundlePath: path.join(dir, "bundle.pem"),
      },
    });
    try {
      const out = text(
        await bash(
          sandbox,
          "curl -s --max-time 5 http://api.example.test/v1/thing; echo; echo $HTTPS_PROXY; cat $NODE_EXTRA_CA_CERTS | head -1",
        ),
      );
      expect(out.split("\n")).toEqual([
        "hello via egress",
        "http://127.0.0.1:3128",
        "-----BEGIN CERTIFICATE-----",
      ]);
      expect(seen).toContain("GET http://api.example.test/v1/thing HTTP/1.1");
      // Bypassing the proxy gets nowhere: there is no route and no DNS.
      const direct = await bash(
        sandbox,
        "curl -s --noproxy '*' --max-time 3 http://1.1.1.1/ || echo BLOCKED",
      );
      expect(text(direct)).toContain("BLOCKED");
    } finally {
      await sandbox.kill();
    }
  });
});
