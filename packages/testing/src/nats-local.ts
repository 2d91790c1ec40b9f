/**
 * A private nats-server with JetStream, started from PATH, for machines without NATS_URL.
 *
 * Invariants:
 * - Binds 127.0.0.1 on a free port with its store in a fresh temp dir; never reuses a running
 *   server.
 * - Resolves only once a client can connect and JetStream answers.
 * - `stop()` is idempotent: it stops the process it started (SIGTERM, then SIGKILL) and removes
 *   the temp dir.
 * - When nats-server is not on PATH the error is one line saying how to install it.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { freePort } from "./ports.js";
import { type ManagedProcess, spawnProcess } from "./process.js";
import { waitFor } from "./wait.js";
import { which } from "./which.js";

export interface LocalNats {
  url: string;
  port: number;
  /** The running server (a new one after `restart`). */
  readonly process: ManagedProcess;
  /**
   * Stops the server with `signal` (SIGKILL: a crash; SIGTERM: a clean stop) and starts it again on
   * the same port with the same store, resolving once JetStream answers (chaos tests).
   */
  restart(signal?: NodeJS.Signals): Promise<void>;
  /** Stops the server and removes its store. Idempotent. */
  stop(): Promise<void>;
}

export interface LocalNatsOptions {
  /** PATH to search for nats-server. */
  path: string | undefined;
  log?: (msg: string) => void;
}

export const NATS_NOT_FOUND =
  'nats-server not found on PATH: install it with "apt-get install nats-server" (Debian/Ubuntu), "brew install nats-server" (macOS) or from https://github.com/nats-io/nats-server/releases';

const ATTEMPTS = 3;

/** Starts nats-server with JetStream on a free loopback port. */
export async function startLocalNats(opts: LocalNatsOptions): Promise<LocalNats> {
  const binary = which("nats-server", opts.path);
  if (binary === undefined) throw new Error(NATS_NOT_FOUND);
  const dir = await mkdtemp(join(tmpdir(), "tendon-nats-"));
  try {
    const started = Date.now();
    const { proc, port } = await spawnWithRetry(binary, dir);
    const url = `nats://127.0.0.1:${port}`;
    try {
      await waitFor(() => jetStreamAnswers(url), { timeoutMs: 15_000, message: `JetStream on ${url}` });
    } catch (err) {
      await proc.stop(2_000);
      throw err;
    }
    opts.log?.(`started nats-server ${binary} on ${url} in ${Date.now() - started} ms`);
    let current = proc;
    let stopping: Promise<void> | undefined;
    return {
      url,
      port,
      get process() {
        return current;
      },
      async restart(signal: NodeJS.Signals = "SIGKILL") {
        await current.stop(5_000, signal);
        current = await spawnNats(binary, dir, port);
        await waitFor(() => jetStreamAnswers(url), { timeoutMs: 30_000, message: `JetStream on ${url}` });
      },
      stop: () => {
        stopping ??= current.stop(5_000).finally(() => rm(dir, { recursive: true, force: true }));
        return stopping;
      },
    };
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

async function spawnWithRetry(binary: string, dir: string): Promise<{ proc: ManagedProcess; port: number }> {
  let lastError: unknown;
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    const port = await freePort();
    try {
      return { proc: await spawnNats(binary, dir, port), port };
    } catch (err) {
      lastError = err;
      // Only a lost port race is worth another try.
      if (!/address already in use/i.test(String(err))) break;
    }
  }
  throw lastError;
}

function spawnNats(binary: string, dir: string, port: number): Promise<ManagedProcess> {
  return spawnProcess({
    name: "nats-server",
    command: binary,
    args: ["-js", "-a", "127.0.0.1", "-p", String(port), "-sd", dir],
    ready: /Server is ready/,
    readyTimeoutMs: 15_000,
  });
}

async function jetStreamAnswers(url: string): Promise<true> {
  const nc = await connect({ servers: url, reconnect: false, timeout: 1_000 });
  try {
    const jsm = await jetstreamManager(nc);
    await jsm.getAccountInfo();
    return true;
  } finally {
    await nc.close();
  }
}
