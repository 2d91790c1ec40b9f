/**
 * The hand runtime: the program a provider starts inside each sandbox. It serves the agent toolset over
 * JSON lines on stdin/stdout (see ./protocol.ts) — there is no socket: sandboxed code has no network
 * path to NATS or Postgres, and stdio is the only channel to the provider.
 *
 * Usage: `node main.js '<config JSON>'` (config: {@link HandConfigSchema}; nothing secret, it is visible
 * in the sandbox's /proc).
 *
 * Invariants:
 * - Prints exactly one `ready` line, after the toolset has loaded, before anything else.
 * - Answers every `call` with exactly one `result` (also when it fails, times out or is cancelled) and
 *   every `ping` with a `pong`, at once, even while calls run.
 * - stdout carries protocol lines only; diagnostics go to stderr.
 * - Exits when stdin ends (the provider is gone) after closing the persistent shell; exits non-zero on a
 *   malformed config or an unexpected internal error, which the provider sees as the sandbox dying.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { connect, createServer } from "node:net";
import { LineSplitter } from "./lines.js";
import {
  decodeLine,
  encodeMessage,
  type FromHandMessage,
  type HandConfig,
  HandConfigSchema,
  ToHandMessageSchema,
} from "./protocol.js";
import { createToolset } from "./toolset.js";

function fail(msg: string, code: number): never {
  process.stderr.write(`tendon-hand: ${msg}\n`);
  process.exit(code);
}

function send(msg: FromHandMessage): void {
  process.stdout.write(encodeMessage(msg));
}

/**
 * The sandbox's network namespace has only loopback; its one way out is the egress socket (or, on
 * providers that cannot bind one in, the provider's TCP relay). Tools reach it through
 * HTTP(S)_PROXY=127.0.0.1:port, which this forwards byte for byte.
 */
function serveEgress(e: NonNullable<HandConfig["egress"]>): void {
  if (e.ca) {
    writeFileSync(e.ca.certPath, e.ca.pem, { mode: 0o644 });
    const system = existsSync(e.ca.systemBundle) ? readFileSync(e.ca.systemBundle, "utf8") : "";
    writeFileSync(e.ca.bundlePath, `${system}\n${e.ca.pem}`, { mode: 0o644 });
  }
  const relay = e.relay?.split(":");
  const server = createServer((client) => {
    const upstream = relay ? connect(Number(relay[1]), relay[0]) : connect(e.socket!);
    client.pipe(upstream).pipe(client);
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("error", close);
    upstream.on("error", close);
  });
  server.on("error", (err) => fail(`egress listener: ${err.message}`, 71));
  server.listen(e.port, "127.0.0.1");
}

function main(): void {
  let cfg: HandConfig;
  try {
    cfg = HandConfigSchema.parse(JSON.parse(process.argv[2] ?? ""));
  } catch (e) {
    fail(`bad config: ${e instanceof Error ? e.message : String(e)}`, 64);
  }
  process.on("uncaughtException", (e) => fail(`internal error: ${e.stack ?? e.message}`, 70));
  process.on("unhandledRejection", (e) => fail(`internal error: ${String(e)}`, 70));
  // The provider went away: nobody reads our answers any more.
  process.stdout.on("error", () => process.exit(0));

  if (cfg.egress) serveEgress(cfg.egress);
  const toolset = createToolset(cfg);
  const running = new Map<string, AbortController>();

  const splitter = new LineSplitter({
    maxLineBytes: cfg.maxLineBytes,
    onOverflow: () => fail(`a request line exceeded ${cfg.maxLineBytes} bytes`, 65),
    onLine: (line) => {
      if (line.trim() === "") return;
      const decoded = decodeLine(ToHandMessageSchema, line);
      if (!decoded.ok) fail(`bad request: ${decoded.error}`, 65);
      const msg = decoded.value;
      if (msg.type === "ping") {
        send({ type: "pong", id: msg.id });
      } else if (msg.type === "cancel") {
        running.get(msg.id)?.abort();
      } else {
        const ac = new AbortController();
        running.set(msg.id, ac);
        void toolset.runCall(msg, ac.signal).then((result) => {
          running.delete(msg.id);
          send(result);
        });
      }
    },
  });

  process.stdin.on("data", (chunk: Buffer) => splitter.push(chunk));
  process.stdin.on("end", () => {
    splitter.end();
    for (const ac of running.values()) ac.abort();
    void toolset.close().finally(() => process.exit(0));
  });
  send({ type: "ready", pid: process.pid, node: process.version });
}

main();
