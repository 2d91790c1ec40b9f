/**
 * The credential-proxy's schema belongs to its own database role: the session-log's role cannot
 * read it (and the other way round), in one shared database.
 */
import { createDb, migrateToLatest, provisionRoles, runMigrations } from "@tendon/db";
import { createDatabase, type TestDatabase, withDatabase } from "@tendon/testing";
import pg from "pg";
import { afterAll, beforeAll, expect, it } from "vitest";
import { CREDENTIAL_MIGRATIONS, type CredentialsDatabase } from "../src/index.js";

let database: TestDatabase;
const suffix = Math.random().toString(36).slice(2, 8);
const SL = `tendon_sl_${suffix}`;
const CP = `tendon_cp_${suffix}`;

function asRole(url: string, role: string): string {
  const u = new URL(url);
  u.username = role;
  u.password = "";
  return u.toString();
}

beforeAll(async () => {
  database = await createDatabase(process.env.DATABASE_URL!);
  await provisionRoles(database.url, [
    { role: SL, schema: "session_log" },
    { role: CP, schema: "credentials" },
  ]);
  const sl = createDb({ url: asRole(database.url, SL) });
  const cp = createDb<CredentialsDatabase>({ url: asRole(database.url, CP), schema: "credentials" });
  try {
    await migrateToLatest(sl);
    await runMigrations(cp, CREDENTIAL_MIGRATIONS);
  } finally {
    await sl.close();
    await cp.close();
  }
});

afterAll(async () => {
  await database?.drop();
  const admin = new pg.Client({ connectionString: process.env.DATABASE_URL });
  await admin.connect();
  try {
    for (const r of [SL, CP]) await admin.query(`drop role if exists ${pg.escapeIdentifier(r)}`);
  } finally {
    await admin.end();
  }
});

async function query(role: string, sql: string): Promise<unknown> {
  const c = new pg.Client({ connectionString: asRole(database.url, role) });
  await c.connect();
  try {
    return (await c.query(sql)).rows;
  } catch (e) {
    return e;
  } finally {
    await c.end();
  }
}

it("the session-log role cannot read credentials, and the credential-proxy role cannot read the log", async () => {
  expect(await query(CP, "select count(*) from credentials.credentials")).toEqual([{ count: "0" }]);
  expect(await query(SL, "select count(*) from session_log.events")).toEqual([{ count: "0" }]);
  expect(String(await query(SL, "select * from credentials.credentials"))).toMatch(
    /permission denied for schema credentials/,
  );
  expect(String(await query(SL, "select * from credentials.vaults"))).toMatch(/permission denied/);
  expect(String(await query(CP, "select * from session_log.events"))).toMatch(
    /permission denied for schema session_log/,
  );
  expect(String(await query(SL, "create table public.sneaky (x int)"))).toMatch(
    /permission denied for schema public/,
  );
  expect(withDatabase(database.url, database.name)).toBe(database.url);
});
