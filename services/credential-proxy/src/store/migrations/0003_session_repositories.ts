/**
 * Sessions' repository resources as the egress proxy needs them: what to clone where, and the
 * write-only token (sealed like a credential, keyed by the resource id) injected into git requests.
 */
import type { Kysely } from "kysely";

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("session_repositories")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("session_id", "text", (c) => c.notNull())
    .addColumn("url", "text", (c) => c.notNull())
    .addColumn("mount_path", "text", (c) => c.notNull())
    .addColumn("checkout", "jsonb")
    .addColumn("secret_ciphertext", "bytea")
    .addColumn("secret_nonce", "bytea")
    .addColumn("key_id", "text")
    .addColumn("created_at", "timestamptz", (c) => c.notNull())
    .addColumn("updated_at", "timestamptz", (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex("session_repositories_session")
    .on("session_repositories")
    .column("session_id")
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable("session_repositories").ifExists().execute();
}
