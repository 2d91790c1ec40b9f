/**
 * The session log's first schema: keys, versioned agents, environments, sessions with their
 * projection and lease, the append-only events, and harness worker liveness.
 */
import { type Kysely, sql } from "kysely";

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("api_keys")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("kind", "text", (c) => c.notNull().check(sql`kind in ('api', 'environment', 'session')`))
    .addColumn("hash", "text", (c) => c.notNull().unique())
    .addColumn("environment_id", "text")
    .addColumn("session_id", "text")
    .addColumn("work_id", "text")
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("revoked_at", "timestamptz")
    .execute();

  await db.schema
    .createTable("agents")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("current_version", "integer", (c) => c.notNull())
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("updated_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("archived_at", "timestamptz")
    .execute();
  await db.schema.createIndex("agents_created").on("agents").columns(["created_at", "id"]).execute();

  await db.schema
    .createTable("agent_versions")
    .addColumn("agent_id", "text", (c) => c.notNull().references("agents.id").onDelete("cascade"))
    .addColumn("version", "integer", (c) => c.notNull())
    .addColumn("config", "jsonb", (c) => c.notNull())
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint("agent_versions_pk", ["agent_id", "version"])
    .execute();

  await db.schema
    .createTable("environments")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("description", "text")
    .addColumn("config", "jsonb", (c) => c.notNull())
    .addColumn("metadata", "jsonb", (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn("scope", "text", (c) => c.notNull().defaultTo("organization"))
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("updated_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("archived_at", "timestamptz")
    .execute();
  await db.schema
    .createIndex("environments_active_name")
    .on("environments")
    .column("name")
    .unique()
    .where(sql.ref("archived_at"), "is", null)
    .execute();
  await db.schema
    .createIndex("environments_created")
    .on("environments")
    .columns(["created_at", "id"])
    .execute();

  await db.schema
    .createTable("sessions")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("agent_id", "text", (c) => c.notNull())
    .addColumn("agent_version", "integer", (c) => c.notNull())
    .addColumn("agent", "jsonb", (c) => c.notNull())
    .addColumn("environment_id", "text", (c) => c.notNull())
    .addColumn("environment_kind", "text", (c) =>
      c.notNull().check(sql`environment_kind in ('cloud', 'self_hosted')`),
    )
    .addColumn("title", "text")
    .addColumn("metadata", "jsonb", (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn("resources", "jsonb", (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    .addColumn("vault_ids", "jsonb", (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    .addColumn("budget", "jsonb")
    .addColumn("status", "text", (c) => c.notNull())
    .addColumn("last_seq", "bigint", (c) => c.notNull().defaultTo(0))
    .addColumn("state", "jsonb", (c) => c.notNull())
    .addColumn("lease_owner", "text")
    .addColumn("lease_epoch", "bigint", (c) => c.notNull().defaultTo(0))
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("updated_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("archived_at", "timestamptz")
    .execute();
  await db.schema.createIndex("sessions_created").on("sessions").columns(["created_at", "id"]).execute();
  await db.schema
    .createIndex("sessions_agent")
    .on("sessions")
    .columns(["agent_id", "agent_version"])
    .execute();
  await db.schema.createIndex("sessions_environment").on("sessions").column("environment_id").execute();
  await db.schema
    .createIndex("sessions_active")
    .on("sessions")
    .column("lease_owner")
    .where(sql.ref("status"), "in", sql`('running', 'rescheduling')`)
    .execute();

  await db.schema
    .createTable("events")
    .addColumn("session_id", "text", (c) => c.notNull().references("sessions.id").onDelete("cascade"))
    .addColumn("seq", "bigint", (c) => c.notNull())
    .addColumn("id", "text", (c) => c.notNull().unique())
    .addColumn("type", "text", (c) => c.notNull())
    .addColumn("body", "jsonb", (c) => c.notNull())
    .addColumn("internal", "jsonb")
    .addColumn("idem_key", "text", (c) => c.notNull())
    .addColumn("processed_at", "timestamptz", (c) => c.notNull())
    .addPrimaryKeyConstraint("events_pk", ["session_id", "seq"])
    .addUniqueConstraint("events_idem", ["session_id", "idem_key"])
    .execute();

  await db.schema
    .createTable("harness_workers")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("expires_at", "timestamptz", (c) => c.notNull())
    .addColumn("started_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const t of [
    "harness_workers",
    "events",
    "sessions",
    "environments",
    "agent_versions",
    "agents",
    "api_keys",
  ]) {
    await db.schema.dropTable(t).ifExists().execute();
  }
}
