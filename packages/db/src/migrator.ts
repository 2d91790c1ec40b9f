/**
 * Runs migrations with kysely's Migrator (the production path: the same code runs in `tendon migrate`,
 * in service start-up when asked, and in every test database). Migrations are compiled in, not read
 * from disk, so the built image carries them.
 */
import { type Migration, type MigrationProvider, type MigrationResultSet, Migrator } from "kysely";
import type { Db } from "./db.js";
import { ensureSchema } from "./db.js";
import * as m0001 from "./migrations/0001_session_log.js";
import * as m0002 from "./migrations/0002_work_queue.js";

const MIGRATIONS: Record<string, Migration> = {
  "0001_session_log": m0001,
  "0002_work_queue": m0002,
};

const provider: MigrationProvider = { getMigrations: async () => MIGRATIONS };

export async function migrateToLatest(db: Db): Promise<MigrationResultSet> {
  await ensureSchema(db);
  const migrator = new Migrator({
    db: db.kysely,
    provider,
    migrationTableSchema: db.schema,
  });
  const result = await migrator.migrateToLatest();
  if (result.error) {
    throw result.error instanceof Error ? result.error : new Error(String(result.error));
  }
  return result;
}
