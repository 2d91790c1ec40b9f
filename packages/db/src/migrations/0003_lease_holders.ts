/**
 * Leases by holder, whatever the session's status, and when each was granted: each harness
 * heartbeat gives back the leases its worker holds but no longer drives, once they are older than
 * the heartbeat's TTL (see the session-log's workers.heartbeat).
 */
import { type Kysely, sql } from "kysely";

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable("sessions").addColumn("lease_granted_at", "timestamptz").execute();
  await db.schema
    .createIndex("sessions_lease_owner")
    .on("sessions")
    .column("lease_owner")
    .where(sql.ref("lease_owner"), "is not", null)
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex("sessions_lease_owner").execute();
  await db.schema.alterTable("sessions").dropColumn("lease_granted_at").execute();
}
