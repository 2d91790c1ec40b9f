/**
 * Key verification and minting. The gateway asks here; it never sees the key table.
 */

import type { Registrar } from "@tendon/bus";
import { AppError, type Principal, SessionLog } from "@tendon/contracts";
import { randomBase62 } from "@tendon/runtime";
import type { HandlerContext } from "../context.js";
import { findActiveKey, insertKey } from "../store/keys.repo.js";

export const KEY_PREFIX = { api: "sk-tnd-api-", environment: "sk-tnd-env-", session: "sk-tnd-ses-" } as const;

export function mintKey(kind: keyof typeof KEY_PREFIX): string {
  return `${KEY_PREFIX[kind]}${randomBase62(40)}`;
}

export function registerAuthHandlers(ctx: HandlerContext, on: Registrar): void {
  const { db, clock, ids } = ctx;

  on(SessionLog.authVerify, async ({ key }) => {
    const row = await findActiveKey(db.kysely, key);
    if (!row) throw new AppError("authentication", "invalid API key");
    let principal: Principal;
    if (row.kind === "api") principal = { type: "api_key", key_id: row.id };
    else if (row.kind === "environment" && row.environment_id) {
      principal = { type: "environment_key", key_id: row.id, environment_id: row.environment_id };
    } else if (row.kind === "session" && row.environment_id && row.session_id && row.work_id) {
      principal = {
        type: "session_token",
        key_id: row.id,
        environment_id: row.environment_id,
        session_id: row.session_id,
        work_id: row.work_id,
      };
    } else throw new AppError("authentication", "invalid API key");
    return { principal };
  });

  on(SessionLog.keysCreate, async ({ name }) => {
    const key = mintKey("api");
    const row = await insertKey(db.kysely, {
      id: ids.next("apiKey"),
      name,
      kind: "api",
      key,
      now: clock.now(),
    });
    return { id: row.id, name: row.name, key, created_at: row.created_at.toISOString() };
  });
}
