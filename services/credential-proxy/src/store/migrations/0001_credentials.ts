/**
 * Vaults, credentials (secrets sealed with AES-256-GCM), sandboxes registered for egress, and the
 * egress log.
 */
import { type Kysely, sql } from "kysely";

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("vaults")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("display_name", "text", (c) => c.notNull())
    .addColumn("metadata", "jsonb", (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn("created_at", "timestamptz", (c) => c.notNull())
    .addColumn("updated_at", "timestamptz", (c) => c.notNull())
    .addColumn("archived_at", "timestamptz")
    .execute();
  await db.schema.createIndex("vaults_created").on("vaults").columns(["created_at", "id"]).execute();

  await db.schema
    .createTable("credentials")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("vault_id", "text", (c) => c.notNull().references("vaults.id").onDelete("cascade"))
    .addColumn("display_name", "text")
    .addColumn("metadata", "jsonb", (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn("auth_type", "text", (c) => c.notNull())
    .addColumn("match_key", "text", (c) => c.notNull())
    .addColumn("auth_public", "jsonb", (c) => c.notNull())
    .addColumn("secret_ciphertext", "bytea")
    .addColumn("secret_nonce", "bytea")
    .addColumn("key_id", "text")
    .addColumn("created_at", "timestamptz", (c) => c.notNull())
    .addColumn("updated_at", "timestamptz", (c) => c.notNull())
    .addColumn("archived_at", "timestamptz")
    .execute();
  await db.schema
    .createIndex("credentials_active_key")
    .on("credentials")
    .columns(["vault_id", "match_key"])
    .unique()
    .where(sql.ref("archived_at"), "is", null)
    .execute();
  await db.schema
    .createIndex("credentials_vault")
    .on("credentials")
    .columns(["vault_id", "created_at", "id"])
    .execute();

  await db.schema
    .createTable("sandbox_registrations")
    .addColumn("sandbox_id", "text", (c) => c.primaryKey())
    .addColumn("session_id", "text", (c) => c.notNull())
    .addColumn("vault_ids", "jsonb", (c) => c.notNull())
    .addColumn("networking", "jsonb", (c) => c.notNull())
    .addColumn("created_at", "timestamptz", (c) => c.notNull())
    .execute();

  await db.schema
    .createTable("egress_log")
    .addColumn("id", "bigserial", (c) => c.primaryKey())
    .addColumn("session_id", "text", (c) => c.notNull())
    .addColumn("sandbox_id", "text", (c) => c.notNull())
    .addColumn("at", "timestamptz", (c) => c.notNull())
    .addColumn("method", "text", (c) => c.notNull())
    .addColumn("scheme", "text", (c) => c.notNull())
    .addColumn("host", "text", (c) => c.notNull())
    .addColumn("port", "integer", (c) => c.notNull())
    .addColumn("status", "integer")
    .addColumn("bytes_out", "bigint", (c) => c.notNull())
    .addColumn("bytes_in", "bigint", (c) => c.notNull())
    .addColumn("credential_ids", "jsonb", (c) => c.notNull())
    .addColumn("blocked", "boolean", (c) => c.notNull())
    .addColumn("reason", "text")
    .addColumn("duration_ms", "double precision", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("egress_log_session").on("egress_log").columns(["session_id", "id"]).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const t of ["egress_log", "sandbox_registrations", "credentials", "vaults"])
    await db.schema.dropTable(t).ifExists().execute();
}
