/**
 * The self-hosted work queue: work items per session and the pollers seen per environment.
 */
import { type Kysely, sql } from "kysely";

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("work_items")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("environment_id", "text", (c) => c.notNull())
    .addColumn("session_id", "text", (c) => c.notNull().references("sessions.id").onDelete("cascade"))
    .addColumn("state", "text", (c) =>
      c.notNull().check(sql`state in ('queued', 'starting', 'active', 'stopping', 'stopped')`),
    )
    .addColumn("metadata", "jsonb", (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn("created_at", "timestamptz", (c) => c.notNull())
    .addColumn("polled_at", "timestamptz")
    .addColumn("polled_by", "text")
    .addColumn("acknowledged_at", "timestamptz")
    .addColumn("started_at", "timestamptz")
    .addColumn("latest_heartbeat_at", "timestamptz")
    .addColumn("last_heartbeat", "text")
    .addColumn("lease_expires_at", "timestamptz")
    .addColumn("ttl_seconds", "integer", (c) => c.notNull().defaultTo(60))
    .addColumn("stop_requested_at", "timestamptz")
    .addColumn("stopped_at", "timestamptz")
    .execute();
  await db.schema
    .createIndex("work_items_queue")
    .on("work_items")
    .columns(["environment_id", "created_at"])
    .where(sql.ref("state"), "=", "queued")
    .execute();
  await db.schema
    .createIndex("work_items_session")
    .on("work_items")
    .columns(["session_id", "state"])
    .execute();
  await db.schema
    .createIndex("work_items_env")
    .on("work_items")
    .columns(["environment_id", "created_at", "id"])
    .execute();

  await db.schema
    .createTable("work_pollers")
    .addColumn("environment_id", "text", (c) => c.notNull())
    .addColumn("worker_id", "text", (c) => c.notNull())
    .addColumn("last_seen", "timestamptz", (c) => c.notNull())
    .addPrimaryKeyConstraint("work_pollers_pk", ["environment_id", "worker_id"])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable("work_pollers").ifExists().execute();
  await db.schema.dropTable("work_items").ifExists().execute();
}
