/**
 * One database, one role per owner: the session-log's role owns schema `session_log`, the
 * credential-proxy's role owns schema `credentials`, and neither can read the other's (a schema
 * owned by a role grants nothing to other roles). Run once with an admin connection, before the
 * services migrate; safe to run again.
 */
import pg from "pg";

export interface RoleSpec {
  role: string;
  password?: string | undefined;
  schema: string;
}

const IDENT = /^[a-z_][a-z0-9_]{0,62}$/;

export async function provisionRoles(adminUrl: string, specs: RoleSpec[]): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  client.on("error", () => {});
  await client.connect();
  try {
    const db = (await client.query("select current_database() as d")).rows[0].d as string;
    for (const s of specs) {
      if (!IDENT.test(s.role) || !IDENT.test(s.schema))
        throw new Error(`invalid role or schema name: ${s.role}, ${s.schema}`);
      const role = pg.escapeIdentifier(s.role);
      const schema = pg.escapeIdentifier(s.schema);
      const exists = (await client.query("select 1 from pg_roles where rolname = $1", [s.role])).rowCount;
      const pw = s.password ? ` password ${pg.escapeLiteral(s.password)}` : "";
      await client.query(exists ? `alter role ${role} login${pw}` : `create role ${role} login${pw}`);
      await client.query(`grant connect on database ${pg.escapeIdentifier(db)} to ${role}`);
      await client.query(`create schema if not exists ${schema} authorization ${role}`);
      await client.query(`alter schema ${schema} owner to ${role}`);
      // Tables created before the role existed move to it too.
      const tables = await client.query("select tablename from pg_tables where schemaname = $1", [s.schema]);
      for (const t of tables.rows as Array<{ tablename: string }>) {
        await client.query(`alter table ${schema}.${pg.escapeIdentifier(t.tablename)} owner to ${role}`);
      }
    }
    // Nobody but the owners creates objects in public.
    await client.query("revoke create on schema public from public");
  } finally {
    await client.end();
  }
}
