/**
 * Vaults and their credentials. Secrets are stored sealed; this module never sees plaintext.
 */

import type { Cursor } from "@tendon/contracts";
import { ConflictError, NotFoundError } from "@tendon/contracts";
import { type Kysely, sql } from "@tendon/db";
import type { CredentialsDatabase } from "./schema.js";

export type Executor = Kysely<CredentialsDatabase>;

export async function getVault(db: Executor, id: string, opts: { forUpdate?: boolean } = {}) {
  let q = db.selectFrom("vaults").selectAll().where("id", "=", id);
  if (opts.forUpdate) q = q.forUpdate();
  const row = await q.executeTakeFirst();
  if (!row) throw new NotFoundError(`vault ${id} not found`);
  return row;
}

export async function listVaults(
  db: Executor,
  f: { includeArchived: boolean; limit: number; after?: Cursor | undefined },
) {
  let q = db.selectFrom("vaults").selectAll();
  if (!f.includeArchived) q = q.where("archived_at", "is", null);
  if (f.after) {
    const [ts, id] = f.after.k as [string, string];
    q = q.where(sql<boolean>`(created_at, id) < (${new Date(ts)}, ${id})`);
  }
  return q.orderBy("created_at", "desc").orderBy("id", "desc").limit(f.limit).execute();
}

export async function getCredential(
  db: Executor,
  vaultId: string,
  id: string,
  opts: { forUpdate?: boolean } = {},
) {
  let q = db.selectFrom("credentials").selectAll().where("id", "=", id).where("vault_id", "=", vaultId);
  if (opts.forUpdate) q = q.forUpdate();
  const row = await q.executeTakeFirst();
  if (!row) throw new NotFoundError(`credential ${id} not found in vault ${vaultId}`);
  return row;
}

export async function listCredentials(
  db: Executor,
  vaultId: string,
  f: { includeArchived: boolean; limit: number; after?: Cursor | undefined },
) {
  let q = db.selectFrom("credentials").selectAll().where("vault_id", "=", vaultId);
  if (!f.includeArchived) q = q.where("archived_at", "is", null);
  if (f.after) {
    const [ts, id] = f.after.k as [string, string];
    q = q.where(sql<boolean>`(created_at, id) < (${new Date(ts)}, ${id})`);
  }
  return q.orderBy("created_at", "desc").orderBy("id", "desc").limit(f.limit).execute();
}

export async function countActiveCredentials(db: Executor, vaultId: string): Promise<number> {
  const r = await db
    .selectFrom("credentials")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .where("vault_id", "=", vaultId)
    .where("archived_at", "is", null)
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

/** Active credentials of these vaults, in the order the vaults are listed (first match wins). */
export async function activeCredentialsOf(db: Executor, vaultIds: string[]) {
  if (vaultIds.length === 0) return [];
  const rows = await db
    .selectFrom("credentials")
    .selectAll()
    .where("vault_id", "in", vaultIds)
    .where("archived_at", "is", null)
    .execute();
  return rows.sort((a, b) => vaultIds.indexOf(a.vault_id) - vaultIds.indexOf(b.vault_id));
}

export function duplicateKey(matchKey: string, cause: unknown): ConflictError {
  return new ConflictError(`this vault already has an active credential for "${matchKey}"`, {
    cause,
    details: { error_code: "credential_key_conflict" },
  });
}
