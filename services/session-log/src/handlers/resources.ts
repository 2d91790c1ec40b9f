/**
 * Session resources (spec §3.6): list, retrieve, token rotation and delete. Repositories are
 * attached when a session is created (they are cloned when its sandbox starts); adding one later
 * is refused, as are files and memory stores (see ../domain/resources.ts).
 */
import type { Registrar } from "@tendon/bus";
import {
  CredentialProxy,
  decodeCursor,
  encodeCursor,
  NotFoundError,
  SessionLog,
  type SessionResource,
  ValidationError,
} from "@tendon/contracts";
import type { HandlerContext } from "../context.js";
import { newResources } from "../domain/resources.js";
import * as sessions from "../store/sessions.repo.js";

const resourcesOf = (row: { resources: unknown }) => row.resources as SessionResource[];

function find(list: SessionResource[], sessionId: string, id: string): SessionResource {
  const r = list.find((x) => x.id === id);
  if (!r) throw new NotFoundError(`resource ${id} not found in session ${sessionId}`);
  return r;
}

export function registerResourceHandlers(ctx: HandlerContext, on: Registrar): void {
  const { db, clock, ids } = ctx;

  on(SessionLog.resourcesAdd, async ({ session_id, params }) => {
    const row = await sessions.getSession(db.kysely, session_id);
    // Validates (and refuses files and memory stores with their own message) before refusing the rest.
    newResources([params], resourcesOf(row), () => ids.next("sessionResource"), clock.now());
    throw new ValidationError(
      "repositories are attached when the session is created (resources[] of POST /v1/sessions)",
      { details: { error_code: "unsupported_resource" } },
    );
  });

  on(SessionLog.resourcesList, async ({ session_id, limit, page }) => {
    const list = resourcesOf(await sessions.getSession(db.kysely, session_id));
    const from = Number(decodeCursor(page, "asc")?.k[0] ?? 0);
    const n = limit ?? 20;
    const data = list.slice(from, from + n);
    return {
      data,
      next_page: from + n < list.length ? encodeCursor({ o: "asc", d: "n", k: [from + n] }) : null,
    };
  });

  on(SessionLog.resourcesRetrieve, async ({ session_id, id }) =>
    find(resourcesOf(await sessions.getSession(db.kysely, session_id)), session_id, id),
  );

  on(SessionLog.resourcesUpdate, async ({ session_id, id, params }) =>
    db.kysely.transaction().execute(async (trx) => {
      const row = await sessions.getSession(trx, session_id, { forUpdate: true });
      const list = resourcesOf(row);
      const r = find(list, session_id, id);
      await ctx.bus.request(CredentialProxy.repositoriesSetToken, {
        session_id,
        resource_id: id,
        authorization_token: params.authorization_token,
      });
      const updated = { ...r, updated_at: clock.now().toISOString() };
      await sessions.updateSessionFields(trx, session_id, {
        resources: list.map((x) => (x.id === id ? updated : x)),
        now: clock.now(),
      });
      return updated;
    }),
  );

  on(SessionLog.resourcesDelete, async ({ session_id, id }) => {
    await db.kysely.transaction().execute(async (trx) => {
      const row = await sessions.getSession(trx, session_id, { forUpdate: true });
      const list = resourcesOf(row);
      find(list, session_id, id);
      await ctx.bus.request(CredentialProxy.repositoriesDelete, { session_id, resource_id: id });
      await sessions.updateSessionFields(trx, session_id, {
        resources: list.filter((x) => x.id !== id),
        now: clock.now(),
      });
    });
    return { id, type: "session_resource_deleted" as const };
  });
}
