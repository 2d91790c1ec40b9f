import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import { createDatabase, type TestDatabase, withDatabase } from "./database.js";

const adminUrl = process.env.DATABASE_URL;

async function query<T extends pg.QueryResultRow>(
  url: string,
  sql: string,
  params: unknown[] = [],
): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

describe("withDatabase", () => {
  it("replaces only the database", () => {
    expect(withDatabase("postgres://u:p@h:5432/postgres?sslmode=disable", "x_1")).toBe(
      "postgres://u:p@h:5432/x_1?sslmode=disable",
    );
  });
});

describe.skipIf(!adminUrl)("createDatabase (DATABASE_URL)", () => {
  const created: TestDatabase[] = [];
  afterEach(async () => {
    await Promise.all(created.splice(0).map((d) => d.drop()));
  });

  it("creates a uniquely named, usable database and drops it even with open connections", async () => {
    const db = await createDatabase(adminUrl!);
    created.push(db);
    expect(db.name).toMatch(/^tendon_t_[0-9a-z]{12}$/);
    expect(db.url).toContain(`/${db.name}`);

    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    client.on("error", () => {}); // terminated by DROP ... WITH (FORCE)
    await client.query("create table t (id int primary key)");
    await client.query("insert into t values (1), (2)");
    expect((await client.query("select count(*)::int as n from t")).rows[0]).toEqual({ n: 2 });
    const [{ current }] = (await client.query("select current_database() as current")).rows as [
      { current: string },
    ];
    expect(current).toBe(db.name);

    await db.drop();
    await client.end().catch(() => {});
    const rows = await query(adminUrl!, "select 1 from pg_database where datname = $1", [db.name]);
    expect(rows).toHaveLength(0);
    await db.drop(); // idempotent
  });

  it("gives every call its own database", async () => {
    const [a, b] = await Promise.all([createDatabase(adminUrl!), createDatabase(adminUrl!)]);
    created.push(a, b);
    expect(a.name).not.toBe(b.name);
  });

  it("accepts a valid explicit name and rejects an unsafe one", async () => {
    const name = `tendon_t_named_${Date.now().toString(36)}`;
    const db = await createDatabase(adminUrl!, { name });
    created.push(db);
    expect(db.name).toBe(name);
    await expect(createDatabase(adminUrl!, { name: 'x"; drop database postgres; --' })).rejects.toThrow(
      /invalid database name/,
    );
  });
});
