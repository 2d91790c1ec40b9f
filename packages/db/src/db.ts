/**
 * The Postgres connection: a pg pool behind kysely, scoped to one schema.
 *
 * Invariants:
 * - int8 columns are parsed as JS numbers (every bigint we store — seq, epoch — stays < 2^53).
 * - Every query runs in the configured schema; nothing touches `public`.
 */
import { Kysely, PostgresDialect, sql } from "kysely";
import pg from "pg";
import type { Database } from "./schema.js";

export interface DbOptions {
  url: string;
  /** Postgres schema holding the tables. @default "session_log" */
  schema?: string;
  /** Pool size. @default 10 */
  max?: number;
  applicationName?: string;
}

export interface Db<DB = Database> {
  readonly kysely: Kysely<DB>;
  readonly pool: pg.Pool;
  readonly schema: string;
  close(): Promise<void>;
}

const INT8_OID = 20;
const types = {
  getTypeParser: ((oid: number, format?: string) => {
    if (oid === INT8_OID) return (v: string) => Number(v);
    return (pg.types.getTypeParser as (o: number, f?: string) => unknown)(oid, format);
  }) as typeof pg.types.getTypeParser,
};

export function createDb<DB = Database>(opts: DbOptions): Db<DB> {
  const schema = opts.schema ?? "session_log";
  if (!/^[a-z_][a-z0-9_]*$/.test(schema)) throw new Error(`invalid schema name: ${schema}`);
  const pool = new pg.Pool({
    connectionString: opts.url,
    max: opts.max ?? 10,
    application_name: opts.applicationName ?? "tendon",
    types,
    // Fail fast when Postgres is down; callers map this to a retryable error.
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
  });
  // A client's connection error (e.g. Postgres restarted) must not crash the process. The pool
  // handles idle clients ("error" on the pool, then drops them); a checked-out client would emit
  // an unhandled "error" event, so every client gets a listener too. Its query in flight, if
  // any, fails on its own, and the pool discards the broken client when it is released.
  pool.on("error", () => {});
  pool.on("connect", (client) => {
    client.on("error", () => {});
  });
  const kysely = new Kysely<DB>({ dialect: new PostgresDialect({ pool }) }).withSchema(schema);
  return {
    kysely,
    pool,
    schema,
    close: () => kysely.destroy(),
  };
}

/**
 * Creates the schema when missing. Checked first, because CREATE SCHEMA IF NOT EXISTS needs the
 * CREATE privilege on the database even when the schema exists (a service role usually lacks it).
 */
export async function ensureSchema<DB>(db: Db<DB>): Promise<void> {
  const found = await sql<{
    n: number;
  }>`select 1 as n from pg_namespace where nspname = ${db.schema}`.execute(db.kysely);
  if (found.rows.length > 0) return;
  await sql`create schema if not exists ${sql.id(db.schema)}`.execute(db.kysely);
}
