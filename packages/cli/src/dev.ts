/**
 * `tendon dev`: the whole stack on one machine. NATS and Postgres come from NATS_URL/DATABASE_URL
 * when set, else a local nats-server and an embedded Postgres are started; every service runs as
 * its own process; without an Anthropic key the bundled mock model answers. Ctrl-C stops it all.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { createDatabase, freePort, type ManagedProcess, resolveInfra, spawnProcess } from "@tendon/testing";
import { writeDevCredentials } from "./api.js";
import type { CliEnv } from "./config.js";
import { createApiKey } from "./keys.js";
import { REPO_ROOT, type Stack, startStack } from "./stack.js";

export interface DevOptions {
  verbose: boolean;
  out: (line: string) => void;
}

export async function runDev(env: CliEnv, opts: DevOptions): Promise<() => Promise<void>> {
  const { out } = opts;
  const infra = await resolveInfra({ env: env.raw, log: (m) => out(`· ${m}`) });
  const cleanups: Array<() => Promise<unknown>> = [() => infra.stop()];
  const stopAll = async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {});
  };
  try {
    let databaseUrl = infra.databaseUrl;
    if (infra.source.postgres !== "env") {
      const db = await createDatabase(infra.databaseUrl, { name: "tendon_dev" });
      databaseUrl = db.url;
    }

    const modelEnv: Record<string, string> = {};
    if (env.anthropicKey || env.anthropicAuthToken) {
      if (env.anthropicKey) modelEnv.ANTHROPIC_API_KEY = env.anthropicKey;
      if (env.anthropicAuthToken) modelEnv.ANTHROPIC_AUTH_TOKEN = env.anthropicAuthToken;
      if (env.anthropicBaseUrl) modelEnv.ANTHROPIC_BASE_URL = env.anthropicBaseUrl;
      out(`· model: ${env.anthropicBaseUrl ?? "https://api.anthropic.com"}`);
    } else {
      const mock = await startMockModel(opts);
      cleanups.push(() => mock.proc.stop(5_000));
      modelEnv.ANTHROPIC_BASE_URL = mock.url;
      modelEnv.ANTHROPIC_API_KEY = "mock";
      out(`· model: the bundled mock model at ${mock.url} (set ANTHROPIC_API_KEY to use Claude)`);
    }

    const masterKey = env.raw.TENDON_MASTER_KEY ?? devMasterKey(out);
    const stack: Stack = await startStack({
      natsUrl: infra.natsUrl,
      databaseUrl,
      prefix: env.prefix,
      port: env.port,
      harnessWorkers: env.devWorkers,
      env: {
        ...modelEnv,
        ...otelEnv(env.raw),
        TENDON_MASTER_KEY: masterKey,
        LOG_LEVEL: opts.verbose ? "debug" : "info",
      },
      ...(opts.verbose ? { onLine: (s: string, l: string) => out(`[${s}] ${l}`) } : {}),
    });
    cleanups.push(() => stack.stop());
    const { key } = await createApiKey({ natsUrl: infra.natsUrl, prefix: env.prefix, name: "tendon dev" });
    // The CLI in another terminal finds this key for this URL without any export.
    const forget = writeDevCredentials(stack.url, key);
    cleanups.push(async () => forget());
    out("");
    out(`Tendon is running.`);
    out(`  API URL   ${stack.url}`);
    out(`  API key   ${key}`);
    out("");
    out(`  pnpm tendon run "hello"  # in another terminal: the CLI finds this URL and key by itself`);
    out(`  export TENDON_URL=${stack.url} TENDON_API_KEY=${key}   # the same, explicitly`);
    out(`  # apps: new Anthropic({ baseURL: "${stack.url}", apiKey: "<the key>" }), then`);
    out(`  # client.beta.agents / environments / sessions as usual`);
    out("");
    out("Press Ctrl-C to stop.");
    return stopAll;
  } catch (err) {
    await stopAll();
    throw err;
  }
}

async function startMockModel(opts: DevOptions): Promise<{ url: string; proc: ManagedProcess }> {
  const port = await freePort();
  const proc = await spawnProcess({
    name: "mock-model",
    command: process.execPath,
    args: [join(REPO_ROOT, "packages", "mock-model", "dist", "main.js")],
    env: { MOCK_MODEL_PORT: String(port), MOCK_MODEL_HOST: "127.0.0.1" },
    ready: /"event":"listening"/,
    readyTimeoutMs: 15_000,
    ...(opts.verbose ? { onLine: (l: string) => opts.out(`[mock-model] ${l}`) } : {}),
  });
  return { url: `http://127.0.0.1:${port}`, proc };
}

/** A stable master key for local development, kept in ~/.tendon (0600), so dev vaults survive restarts. */
function devMasterKey(out: (line: string) => void): string {
  const dir = join(homedir(), ".tendon");
  const file = join(dir, "dev-master.key");
  if (existsSync(file)) return readFileSync(file, "utf8").trim();
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const key = randomBytes(32).toString("base64");
  writeFileSync(file, `${key}\n`, { mode: 0o600 });
  out(`· created a development master key in ${file} (set TENDON_MASTER_KEY in production)`);
  return key;
}

/** The OpenTelemetry variables (OTEL_*) as given: tracing for every service of the dev stack. */
function otelEnv(raw: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(
    Object.entries(raw).filter((e): e is [string, string] => e[0].startsWith("OTEL_") && e[1] !== undefined),
  );
}
