/**
 * Runs migrations with kysely's Migrator (the production path: the same code runs in `tendon migrate`,
 * in service start-up when asked, and in every test database). Migrations are compiled in, not read
 * from disk, so the built image carries them.
 */
import { type Migration, type MigrationResultSet, Migrator } from "kysely";
import type { Db } from "./db.js";
import { ensureSchema } from "./db.js";
import * as m0001 from "./migrations/0001_session_log.js";
import * as m0002 from "./migrations/0002_work_queue.js";
import * as m0003 from "./migrations/0003_lease_holders.js";

const MIGRATIONS: Record<string, Migration> = {
  "0001_session_log": m0001,
  "0002_work_queue": m0002,
  "0003_lease_holders": m0003,
};

/** Applies the session log's migrations. */
export async function migrateToLatest(db: Db): Promise<MigrationResultSet> {
  return runMigrations(db, MIGRATIONS);
}

/** Applies a set of migrations to `db`'s schema (each service that owns a schema has its own set). */
export async function runMigrations<DB>(
  db: Db<DB>,
  migrations: Record<string, Migration>,
): Promise<MigrationResultSet> {
  await ensureSchema(db);
  const migrator = new Migrator({
    db: db.kysely,
    provider: { getMigrations: async () => migrations },
    migrationTableSchema: db.schema,
  });
  const result = await migrator.migrateToLatest();
  if (result.error) {
    throw result.error instanceof Error ? result.error : new Error(String(result.error));
  }
  return result;
}
