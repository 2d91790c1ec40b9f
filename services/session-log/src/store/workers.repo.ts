/**
 * Harness worker liveness. A session lease is valid while its owner's row is unexpired, so one
 * heartbeat per worker keeps all of its sessions' leases alive.
 */
import { sql } from "@tendon/db";
import type { Executor } from "./executor.js";

export async function heartbeat(db: Executor, workerId: string, ttlMs: number): Promise<void> {
  // Postgres' clock decides expiry, so workers' clocks never need to agree.
  const expires = sql<Date>`clock_timestamp() + make_interval(secs => ${ttlMs / 1000})`;
  await db
    .insertInto("harness_workers")
    .values({ id: workerId, expires_at: expires })
    .onConflict((oc) => oc.column("id").doUpdateSet({ expires_at: expires }))
    .execute();
}

export async function removeWorker(db: Executor, workerId: string): Promise<void> {
  await db.deleteFrom("harness_workers").where("id", "=", workerId).execute();
}

export async function pruneWorkers(db: Executor, olderThanMs: number): Promise<void> {
  await db
    .deleteFrom("harness_workers")
    .where("expires_at", "<", sql<Date>`clock_timestamp() - make_interval(secs => ${olderThanMs / 1000})`)
    .execute();
}
