/**
 * API keys, environment keys and per-work-item session tokens, stored as sha256 hashes.
 * Keys carry ≥190 bits of randomness, so a fast hash is safe; the plaintext exists only in the
 * response that minted it.
 */
import { createHash } from "node:crypto";
import type { ApiKeyRow } from "@tendon/db";
import type { Executor } from "./executor.js";

export type KeyKind = "api" | "environment" | "session";

export function hashKey(key: string): string {
  return createHash("sha256").update(key).digest("hex");
}

export async function insertKey(
  db: Executor,
  k: {
    id: string;
    name: string;
    kind: KeyKind;
    key: string;
    environmentId?: string;
    sessionId?: string;
    workId?: string;
    now: Date;
  },
): Promise<ApiKeyRow> {
  return db
    .insertInto("api_keys")
    .values({
      id: k.id,
      name: k.name,
      kind: k.kind,
      hash: hashKey(k.key),
      environment_id: k.environmentId ?? null,
      session_id: k.sessionId ?? null,
      work_id: k.workId ?? null,
      created_at: k.now,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function findActiveKey(db: Executor, key: string): Promise<ApiKeyRow | undefined> {
  return db
    .selectFrom("api_keys")
    .selectAll()
    .where("hash", "=", hashKey(key))
    .where("revoked_at", "is", null)
    .executeTakeFirst();
}

/** Revokes the sessions tokens minted for a work item. */
export async function revokeWorkTokens(db: Executor, workId: string, now: Date): Promise<void> {
  await db
    .updateTable("api_keys")
    .set({ revoked_at: now })
    .where("work_id", "=", workId)
    .where("kind", "=", "session")
    .where("revoked_at", "is", null)
    .execute();
}
