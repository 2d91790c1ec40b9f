/**
 * Starts a Tendon stack as separate processes — session-log(s), gateway(s), harness worker(s),
 * sandbox-manager(s), credential-proxy —
 * against a given NATS and database. Used by `tendon dev`, the integration and conformance
 * suites, chaos runs and benchmarks, so they all exercise the same processes production runs.
 */
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort, type ManagedProcess, spawnProcess } from "@tendon/testing";

export type ServiceName =
  | "session-log"
  | "gateway"
  | "harness-worker"
  | "sandbox-manager"
  | "credential-proxy";

const here = dirname(fileURLToPath(import.meta.url));
/** The repository root (this file lives in packages/cli/{src,dist}). */
export const REPO_ROOT = resolve(here, "..", "..", "..");

export function serviceEntry(name: ServiceName): string {
  const p = join(REPO_ROOT, "services", name, "dist", "main.js");
  if (!existsSync(p)) throw new Error(`${p} is missing: run "pnpm build" first`);
  return p;
}

export interface StackOptions {
  natsUrl: string;
  databaseUrl: string;
  prefix: string;
  sessionLogs?: number;
  gateways?: number;
  harnessWorkers?: number;
  sandboxManagers?: number;
  /** Environment for every service (model endpoint, log level, timings...). */
  env?: Record<string, string>;
  /** Extra environment per service. */
  serviceEnv?: Partial<Record<ServiceName, Record<string, string>>>;
  /** Gateway port of the first gateway; 0 picks a free one. */
  port?: number;
  onLine?: (service: string, line: string) => void;
}

/** A service process's ops listener (/healthz, /readyz, /metrics), when it runs with OPS_PORT. */
export interface OpsEndpoint {
  readonly service: ServiceName;
  /** The process's name in the stack (`harness-worker-4`). */
  readonly name: string;
  readonly url: string;
}

export interface Stack {
  readonly url: string;
  readonly urls: string[];
  /** Every ops listener, in start order (set OPS_PORT=0 in `env` to give each service one). */
  readonly ops: OpsEndpoint[];
  readonly sessionLogs: ManagedProcess[];
  readonly gateways: ManagedProcess[];
  readonly harness: ManagedProcess[];
  readonly sandboxManagers: ManagedProcess[];
  readonly credentialProxies: ManagedProcess[];
  startService(name: ServiceName, extraEnv?: Record<string, string>): Promise<ManagedProcess>;
  stop(): Promise<void>;
}

const READY = /"event":"ready"/;

/** The `ops_url` a service announces on its ready line (see `opsReadyFields`), if any. */
function opsUrlOf(readyLine: string): string | undefined {
  try {
    const v = (JSON.parse(readyLine) as { ops_url?: unknown }).ops_url;
    return typeof v === "string" ? v : undefined;
  } catch {
    return undefined; // not JSON: a service without an ops listener (policy: nothing to learn)
  }
}

export async function startStack(opts: StackOptions): Promise<Stack> {
  const base: Record<string, string> = {
    NATS_URL: opts.natsUrl,
    DATABASE_URL: opts.databaseUrl,
    TENDON_PREFIX: opts.prefix,
    LOG_LEVEL: "info",
    // Every stack gets its own master key unless one is given (tendon dev keeps a stable one).
    TENDON_MASTER_KEY: randomBytes(32).toString("base64"),
    // Sandboxes reach the outside only through the credential-proxy's egress proxy.
    TENDON_EGRESS_SECRET: randomBytes(32).toString("base64"),
    ...opts.env,
  };
  if (!base.TENDON_EGRESS_PORT) base.TENDON_EGRESS_PORT = String(await freePort());
  base.TENDON_EGRESS_HOST ??= "127.0.0.1";
  base.TENDON_EGRESS_ADDR ??= `127.0.0.1:${base.TENDON_EGRESS_PORT}`;
  const sessionLogs: ManagedProcess[] = [];
  const gateways: ManagedProcess[] = [];
  const harness: ManagedProcess[] = [];
  const sandboxManagers: ManagedProcess[] = [];
  const credentialProxies: ManagedProcess[] = [];
  const urls: string[] = [];
  const ops: OpsEndpoint[] = [];
  let counter = 0;

  const startService = async (
    name: ServiceName,
    extraEnv: Record<string, string> = {},
  ): Promise<ManagedProcess> => {
    const n = ++counter;
    const env = { ...base, ...opts.serviceEnv?.[name], ...extraEnv };
    if (name === "gateway" && env.PORT === undefined) env.PORT = String(await freePort());
    const proc = await spawnProcess({
      name: `${name}-${n}`,
      command: process.execPath,
      args: ["--enable-source-maps", serviceEntry(name)],
      env,
      ready: READY,
      readyTimeoutMs: 30_000,
      ...(opts.onLine ? { onLine: (line: string) => opts.onLine?.(`${name}-${n}`, line) } : {}),
    });
    const opsUrl = opsUrlOf(await proc.waitForLine(READY, 1_000));
    if (opsUrl) ops.push({ service: name, name: proc.name, url: opsUrl });
    if (name === "session-log") sessionLogs.push(proc);
    else if (name === "gateway") {
      gateways.push(proc);
      urls.push(`http://127.0.0.1:${env.PORT}`);
    } else if (name === "sandbox-manager") sandboxManagers.push(proc);
    else if (name === "credential-proxy") credentialProxies.push(proc);
    else harness.push(proc);
    return proc;
  };

  const all = () => [...harness, ...sandboxManagers, ...gateways, ...credentialProxies, ...sessionLogs];
  try {
    // The first session-log and credential-proxy migrate their schemas; the rest start after them.
    await Promise.all([startService("session-log"), startService("credential-proxy")]);
    const rest: Promise<unknown>[] = [];
    for (let i = 1; i < (opts.sessionLogs ?? 1); i++) rest.push(startService("session-log"));
    for (let i = 0; i < (opts.gateways ?? 1); i++) {
      rest.push(
        startService(
          "gateway",
          i === 0 && opts.port !== undefined && opts.port !== 0 ? { PORT: String(opts.port) } : {},
        ),
      );
    }
    for (let i = 0; i < (opts.harnessWorkers ?? 1); i++) rest.push(startService("harness-worker"));
    for (let i = 0; i < (opts.sandboxManagers ?? 1); i++) rest.push(startService("sandbox-manager"));
    await Promise.all(rest);
  } catch (err) {
    await Promise.allSettled(all().map((p) => p.stop(5_000)));
    throw err;
  }

  return {
    get url() {
      return urls[0]!;
    },
    urls,
    ops,
    sessionLogs,
    gateways,
    harness,
    sandboxManagers,
    credentialProxies,
    startService,
    async stop() {
      // Workers first (they hand back turns), then the edge, then the log.
      await Promise.allSettled(harness.map((p) => p.stop(15_000)));
      await Promise.allSettled(sandboxManagers.map((p) => p.stop(10_000)));
      await Promise.allSettled(gateways.map((p) => p.stop(5_000)));
      await Promise.allSettled(credentialProxies.map((p) => p.stop(5_000)));
      await Promise.allSettled(sessionLogs.map((p) => p.stop(5_000)));
    },
  };
}
