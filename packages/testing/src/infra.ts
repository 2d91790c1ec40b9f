/**
 * `resolveInfra`: find or start the NATS and PostgreSQL a test run or `tendon dev` needs.
 *
 * For each of NATS and PostgreSQL, independently and in this order:
 *   1. the env var (`NATS_URL`, `DATABASE_URL`) when set: used as is, never started or stopped;
 *   2. testcontainers, when a container runtime answers (skipped with `TENDON_TESTCONTAINERS=0`);
 *   3. local: `nats-server` from PATH / an embedded PostgreSQL (see postgres-embedded.ts).
 *
 * Invariants:
 * - The chosen source of each is reported through `log` and in `source`.
 * - Anything started here is stopped by `stop()` (idempotent); servers from the env are not.
 * - If either cannot be had, whatever was started for the other is stopped before rejecting.
 */
import { processEnv } from "./config.js";
import { containerRuntimeUnavailable, startNatsContainer, startPostgresContainer } from "./containers.js";
import { startLocalNats } from "./nats-local.js";
import { startEmbeddedPostgres } from "./postgres-embedded.js";

export interface Infra {
  natsUrl: string;
  /** An admin/maintenance URL (database "postgres"); use `createDatabase` for test databases. */
  databaseUrl: string;
  source: { nats: "env" | "testcontainers" | "local"; postgres: "env" | "testcontainers" | "embedded" };
  /** Stops what `resolveInfra` started. Idempotent. */
  stop(): Promise<void>;
}

export interface ResolveInfraOptions {
  /** Where to read NATS_URL, DATABASE_URL, TENDON_TESTCONTAINERS and PATH. Default `process.env`. */
  env?: NodeJS.ProcessEnv;
  log?: (msg: string) => void;
}

interface Resolved<S> {
  url: string;
  source: S;
  stop(): Promise<void>;
}

const noop = async () => {};

/** Finds or starts NATS and PostgreSQL; see the module invariants. */
export async function resolveInfra(opts: ResolveInfraOptions = {}): Promise<Infra> {
  const env = opts.env ?? processEnv();
  const log = opts.log ?? (() => {});
  const natsFromEnv = nonEmpty(env.NATS_URL);
  const pgFromEnv = nonEmpty(env.DATABASE_URL);

  // Probe the container runtime once, and only if something must be started.
  let runtime: Promise<boolean> | undefined;
  const containersUsable = () => {
    runtime ??= (async () => {
      if (env.TENDON_TESTCONTAINERS === "0") {
        log("testcontainers: skipped (TENDON_TESTCONTAINERS=0)");
        return false;
      }
      const reason = await containerRuntimeUnavailable();
      if (reason !== undefined) log(`testcontainers: no container runtime (${reason.split("\n")[0]})`);
      return reason === undefined;
    })();
    return runtime;
  };

  const nats = async (): Promise<Resolved<Infra["source"]["nats"]>> => {
    if (natsFromEnv) {
      log("nats: using NATS_URL from the environment");
      return { url: natsFromEnv, source: "env", stop: noop };
    }
    if (await containersUsable()) {
      try {
        const c = await startNatsContainer();
        log(`nats: started a testcontainers nats-server at ${c.url}`);
        return { url: c.url, source: "testcontainers", stop: c.stop };
      } catch (err) {
        log(`nats: testcontainers failed (${firstLine(err)}); falling back to a local nats-server`);
      }
    }
    const local = await startLocalNats({ path: env.PATH, log: (m) => log(`nats: ${m}`) });
    return { url: local.url, source: "local", stop: local.stop };
  };

  const postgres = async (): Promise<Resolved<Infra["source"]["postgres"]>> => {
    if (pgFromEnv) {
      log("postgres: using DATABASE_URL from the environment");
      return { url: pgFromEnv, source: "env", stop: noop };
    }
    if (await containersUsable()) {
      try {
        const c = await startPostgresContainer();
        log("postgres: started a testcontainers PostgreSQL");
        return { url: c.url, source: "testcontainers", stop: c.stop };
      } catch (err) {
        log(`postgres: testcontainers failed (${firstLine(err)}); falling back to an embedded PostgreSQL`);
      }
    }
    const embedded = await startEmbeddedPostgres({ path: env.PATH, log: (m) => log(`postgres: ${m}`) });
    return { url: embedded.url, source: "embedded", stop: embedded.stop };
  };

  const [n, p] = await Promise.allSettled([nats(), postgres()]);
  if (n.status === "rejected" || p.status === "rejected") {
    await Promise.allSettled([n, p].map((r) => (r.status === "fulfilled" ? r.value.stop() : undefined)));
    throw n.status === "rejected" ? n.reason : (p as PromiseRejectedResult).reason;
  }

  let stopping: Promise<void> | undefined;
  return {
    natsUrl: n.value.url,
    databaseUrl: p.value.url,
    source: { nats: n.value.source, postgres: p.value.source },
    stop: () => {
      stopping ??= (async () => {
        const results = await Promise.allSettled([n.value.stop(), p.value.stop()]);
        const failed = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
        if (failed.length > 0) {
          throw new AggregateError(
            failed.map((f) => f.reason),
            "resolveInfra: stopping failed",
          );
        }
      })();
      return stopping;
    },
  };
}

function nonEmpty(value: string | undefined): string | undefined {
  const v = value?.trim();
  return v ? v : undefined;
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split("\n")[0] ?? "";
}
