/**
 * Per-test databases on a shared PostgreSQL server.
 *
 * Invariants:
 * - Each call creates a new database named `tendon_t_<random base36>` (or the validated
 *   `opts.name`) and returns a URL that differs from the admin URL only in its database.
 * - `drop()` is idempotent and uses `DROP DATABASE IF EXISTS ... WITH (FORCE)`, so open
 *   connections (a leaked pool, a killed service) do not block it.
 * - Admin connections are short-lived: one per create and one per drop.
 */
import pg from "pg";
import { randomBase36 } from "./random.js";

export interface TestDatabase {
  /** Connection URL for the new database. */
  url: string;
  name: string;
  /** Drops the database, terminating its connections. Idempotent. */
  drop(): Promise<void>;
}

const NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** Creates a uniquely named database on the server behind `adminUrl`. */
export async function createDatabase(adminUrl: string, opts: { name?: string } = {}): Promise<TestDatabase> {
  const name = opts.name ?? `tendon_t_${randomBase36(12)}`;
  if (!NAME.test(name))
    throw new Error(`invalid database name ${JSON.stringify(name)}: use [a-z0-9_], max 63`);
  await withAdmin(adminUrl, (c) => c.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`));
  let dropping: Promise<void> | undefined;
  return {
    url: withDatabase(adminUrl, name),
    name,
    drop: () => {
      dropping ??= withAdmin(adminUrl, (c) =>
        c.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`),
      ).then(() => undefined);
      return dropping;
    },
  };
}

/** `url` with its database (path) replaced by `database`; query parameters are kept. */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(database)}`;
  return u.toString();
}

async function withAdmin<T>(adminUrl: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 10_000 });
  client.on("error", () => {});
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}
