/**
 * The egress proxy's certificate authority, shared by every credential-proxy instance; its private
 * key is sealed with the master key like any other secret.
 */
import type { Kysely } from "kysely";

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("egress_ca")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("cert_pem", "text", (c) => c.notNull())
    .addColumn("key_ciphertext", "bytea", (c) => c.notNull())
    .addColumn("key_nonce", "bytea", (c) => c.notNull())
    .addColumn("key_id", "text", (c) => c.notNull())
    .addColumn("created_at", "timestamptz", (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable("egress_ca").ifExists().execute();
}
