/**
 * Master key rotation: every stored secret not sealed under the current key is opened with the * old key it names and sealed again under the current one, one row per transaction. The egress
 * CA's private key is re-sealed the same way.
 */
import type { Registrar } from "@tendon/bus";
import { CredentialProxy } from "@tendon/contracts";
import type { CredentialProxyContext } from "../context.js";

/** Tables whose rows hold a secret sealed by SecretStore (id, secret_ciphertext, secret_nonce, key_id). */
const SEALED_TABLES = ["credentials", "session_repositories"] as const;

export async function rotateSecrets(ctx: CredentialProxyContext): Promise<number> {
  let n = 0;
  for (const table of SEALED_TABLES) n += await rotateTable(ctx, table);
  return n + (await rotateEgressCa(ctx));
}

async function rotateTable(
  ctx: CredentialProxyContext,
  table: (typeof SEALED_TABLES)[number],
): Promise<number> {
  const { db, secrets } = ctx;
  const current = secrets.keyring.currentKeyId;
  const stale = await db.kysely
    .selectFrom(table)
    .select("id")
    .where("key_id", "is not", null)
    .where("key_id", "<>", current)
    .execute();
  let n = 0;
  for (const { id } of stale) {
    await db.kysely.transaction().execute(async (trx) => {
      const row = await trx
        .selectFrom(table)
        .select(["id", "key_id", "secret_ciphertext", "secret_nonce"])
        .where("id", "=", id)
        .forUpdate()
        .executeTakeFirst();
      if (!row?.key_id || row.key_id === current) return;
      const sealed = secrets.seal(secrets.open(row), id);
      await trx
        .updateTable(table)
        .set({ secret_ciphertext: sealed.ciphertext, secret_nonce: sealed.nonce, key_id: sealed.key_id })
        .where("id", "=", id)
        .execute();
      n++;
    });
  }
  return n;
}

async function rotateEgressCa(ctx: CredentialProxyContext): Promise<number> {
  const { keyring } = ctx.secrets;
  return ctx.db.kysely.transaction().execute(async (trx) => {
    const rows = await trx
      .selectFrom("egress_ca")
      .selectAll()
      .where("key_id", "<>", keyring.currentKeyId)
      .forUpdate()
      .execute();
    for (const row of rows) {
      const aad = `egress_ca:${row.id}`;
      const sealed = keyring.seal(
        keyring.open({ key_id: row.key_id, nonce: row.key_nonce, ciphertext: row.key_ciphertext }, aad),
        aad,
      );
      await trx
        .updateTable("egress_ca")
        .set({ key_ciphertext: sealed.ciphertext, key_nonce: sealed.nonce, key_id: sealed.key_id })
        .where("id", "=", row.id)
        .execute();
    }
    return rows.length;
  });
}

export function registerKeyHandlers(ctx: CredentialProxyContext, on: Registrar): void {
  on(CredentialProxy.keysRotate, async () => {
    const resealed = await rotateSecrets(ctx);
    ctx.log.info("master key rotation finished", { key_id: ctx.secrets.keyring.currentKeyId, resealed });
    return { key_id: ctx.secrets.keyring.currentKeyId, resealed };
  });
}
