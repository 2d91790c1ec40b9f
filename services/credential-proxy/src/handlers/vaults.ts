/**
 * Vaults and credentials (spec §3.8, §8). Secrets are sealed before they touch the database and
 * are never part of any reply.
 */

import type { Registrar } from "@tendon/bus";
import {
  applyMetadataPatch,
  type Credential,
  type CredentialAuthPublic,
  CredentialProxy,
  decodeCursor,
  encodeCursor,
  type Page,
  ValidationError,
  type Vault,
} from "@tendon/contracts";
import { isUniqueViolation } from "@tendon/db";
import type { CredentialProxyContext } from "../context.js";
import { applyUpdate, splitCreate } from "../domain/credential-auth.js";
import type { CredentialsRow, VaultsRow } from "../store/schema.js";
import * as repo from "../store/vaults.repo.js";

const MAX_CREDENTIALS_PER_VAULT = 20;
const iso = (d: Date | null) => (d ? d.toISOString() : null);

export function toVault(r: VaultsRow): Vault {
  return {
    id: r.id,
    type: "vault",
    display_name: r.display_name,
    metadata: r.metadata,
    created_at: r.created_at.toISOString(),
    updated_at: r.updated_at.toISOString(),
    archived_at: iso(r.archived_at),
  };
}

export function toCredential(r: CredentialsRow): Credential {
  return {
    id: r.id,
    type: "vault_credential",
    vault_id: r.vault_id,
    display_name: r.display_name,
    auth: r.auth_public as CredentialAuthPublic,
    metadata: r.metadata,
    created_at: r.created_at.toISOString(),
    updated_at: r.updated_at.toISOString(),
    archived_at: iso(r.archived_at),
  };
}

function page<R extends { created_at: Date; id: string }, T>(
  rows: R[],
  limit: number,
  map: (r: R) => T,
): Page<T> {
  const data = rows.slice(0, limit);
  const last = data.at(-1);
  return {
    data: data.map(map),
    next_page:
      rows.length > limit && last
        ? encodeCursor({ o: "desc", d: "n", k: [last.created_at.toISOString(), last.id] })
        : null,
  };
}

export function registerVaultHandlers(ctx: CredentialProxyContext, on: Registrar): void {
  const { db, clock, ids, secrets } = ctx;

  on(CredentialProxy.vaultsCreate, async (p) => {
    const now = clock.now();
    const row = await db.kysely
      .insertInto("vaults")
      .values({
        id: ids.next("vault"),
        display_name: p.display_name,
        metadata: JSON.stringify(p.metadata ?? {}),
        created_at: now,
        updated_at: now,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toVault(row);
  });

  on(CredentialProxy.vaultsRetrieve, async ({ id }) => toVault(await repo.getVault(db.kysely, id)));

  on(CredentialProxy.vaultsUpdate, async ({ id, params }) =>
    db.kysely.transaction().execute(async (trx) => {
      const cur = await repo.getVault(trx, id, { forUpdate: true });
      if (cur.archived_at)
        throw new ValidationError(`vault ${id} is archived`, { details: { error_code: "vault_archived" } });
      const row = await trx
        .updateTable("vaults")
        .set({
          display_name: params.display_name ?? cur.display_name,
          metadata: JSON.stringify(applyMetadataPatch(cur.metadata, params.metadata)),
          updated_at: clock.now(),
        })
        .where("id", "=", id)
        .returningAll()
        .executeTakeFirstOrThrow();
      return toVault(row);
    }),
  );

  on(CredentialProxy.vaultsList, async (q) => {
    const limit = q.limit ?? 20;
    const rows = await repo.listVaults(db.kysely, {
      includeArchived: q.include_archived ?? false,
      limit: limit + 1,
      after: decodeCursor(q.page, "desc"),
    });
    return page(rows, limit, toVault);
  });

  on(CredentialProxy.vaultsArchive, async ({ id }) =>
    db.kysely.transaction().execute(async (trx) => {
      await repo.getVault(trx, id, { forUpdate: true });
      const now = clock.now();
      // Archiving a vault archives its credentials and purges their secrets.
      await trx
        .updateTable("credentials")
        .set({ archived_at: now, updated_at: now, secret_ciphertext: null, secret_nonce: null, key_id: null })
        .where("vault_id", "=", id)
        .where("archived_at", "is", null)
        .execute();
      const row = await trx
        .updateTable("vaults")
        .set({ archived_at: now, updated_at: now })
        .where("id", "=", id)
        .where("archived_at", "is", null)
        .returningAll()
        .executeTakeFirst();
      return toVault(row ?? (await repo.getVault(trx, id)));
    }),
  );

  on(CredentialProxy.vaultsDelete, async ({ id }) => {
    await repo.getVault(db.kysely, id);
    await db.kysely.deleteFrom("vaults").where("id", "=", id).execute();
    return { id, type: "vault_deleted" as const };
  });

  on(CredentialProxy.vaultsCheck, async ({ ids: wanted }) => {
    if (wanted.length === 0) return { missing: [] };
    const rows = await db.kysely
      .selectFrom("vaults")
      .select("id")
      .where("id", "in", wanted)
      .where("archived_at", "is", null)
      .execute();
    const live = new Set(rows.map((r) => r.id));
    return { missing: wanted.filter((v) => !live.has(v)) };
  });

  on(CredentialProxy.credentialsCreate, async ({ vault_id, params }) =>
    db.kysely.transaction().execute(async (trx) => {
      const vault = await repo.getVault(trx, vault_id, { forUpdate: true });
      if (vault.archived_at)
        throw new ValidationError(`vault ${vault_id} is archived`, {
          details: { error_code: "vault_archived" },
        });
      if ((await repo.countActiveCredentials(trx, vault_id)) >= MAX_CREDENTIALS_PER_VAULT) {
        throw new ValidationError(`a vault holds at most ${MAX_CREDENTIALS_PER_VAULT} active credentials`);
      }
      const split = splitCreate(params.auth);
      const id = ids.next("credential");
      const sealed = secrets.seal(split.secret, id);
      const now = clock.now();
      try {
        const row = await trx
          .insertInto("credentials")
          .values({
            id,
            vault_id,
            display_name: params.display_name ?? null,
            metadata: JSON.stringify(params.metadata ?? {}),
            auth_type: params.auth.type,
            match_key: split.matchKey,
            auth_public: JSON.stringify(split.public),
            secret_ciphertext: sealed.ciphertext,
            secret_nonce: sealed.nonce,
            key_id: sealed.key_id,
            created_at: now,
            updated_at: now,
          })
          .returningAll()
          .executeTakeFirstOrThrow();
        return toCredential(row);
      } catch (err) {
        if (isUniqueViolation(err)) throw repo.duplicateKey(split.matchKey, err);
        throw err;
      }
    }),
  );

  on(CredentialProxy.credentialsRetrieve, async ({ vault_id, id }) =>
    toCredential(await repo.getCredential(db.kysely, vault_id, id)),
  );

  on(CredentialProxy.credentialsUpdate, async ({ vault_id, id, params }) =>
    db.kysely.transaction().execute(async (trx) => {
      const cur = await repo.getCredential(trx, vault_id, id, { forUpdate: true });
      if (cur.archived_at)
        throw new ValidationError(`credential ${id} is archived`, {
          details: { error_code: "credential_archived" },
        });
      let authPublic = cur.auth_public as CredentialAuthPublic;
      let sealedFields = {};
      if (params.auth) {
        const next = applyUpdate(authPublic, secrets.open(cur), params.auth);
        authPublic = next.public;
        const sealed = secrets.seal(next.secret, id);
        sealedFields = {
          secret_ciphertext: sealed.ciphertext,
          secret_nonce: sealed.nonce,
          key_id: sealed.key_id,
        };
      }
      const row = await trx
        .updateTable("credentials")
        .set({
          auth_public: JSON.stringify(authPublic),
          ...sealedFields,
          display_name: params.display_name === undefined ? cur.display_name : params.display_name,
          metadata: JSON.stringify(applyMetadataPatch(cur.metadata, params.metadata)),
          updated_at: clock.now(),
        })
        .where("id", "=", id)
        .returningAll()
        .executeTakeFirstOrThrow();
      return toCredential(row);
    }),
  );

  on(CredentialProxy.credentialsList, async ({ vault_id, query }) => {
    await repo.getVault(db.kysely, vault_id);
    const limit = query.limit ?? 20;
    const rows = await repo.listCredentials(db.kysely, vault_id, {
      includeArchived: query.include_archived ?? false,
      limit: limit + 1,
      after: decodeCursor(query.page, "desc"),
    });
    return page(rows, limit, toCredential);
  });

  on(CredentialProxy.credentialsArchive, async ({ vault_id, id }) => {
    await repo.getCredential(db.kysely, vault_id, id);
    const now = clock.now();
    // Archive purges the secret and frees the key for a new credential.
    const row = await db.kysely
      .updateTable("credentials")
      .set({ archived_at: now, updated_at: now, secret_ciphertext: null, secret_nonce: null, key_id: null })
      .where("id", "=", id)
      .where("archived_at", "is", null)
      .returningAll()
      .executeTakeFirst();
    return toCredential(row ?? (await repo.getCredential(db.kysely, vault_id, id)));
  });

  on(CredentialProxy.credentialsDelete, async ({ vault_id, id }) => {
    await repo.getCredential(db.kysely, vault_id, id);
    await db.kysely.deleteFrom("credentials").where("id", "=", id).execute();
    return { id, type: "vault_credential_deleted" as const };
  });
}
