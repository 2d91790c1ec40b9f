/**
 * Environments: create, retrieve, update (config type fixed; archived ones frozen), list, archive,
 * delete (refused while live sessions use it).
 */

import type { Registrar } from "@tendon/bus";
import {
  applyMetadataPatch,
  decodeCursor,
  type EnvironmentConfig,
  encodeCursor,
  resolveEnvironmentConfig,
  SessionLog,
  ValidationError,
} from "@tendon/contracts";
import type { HandlerContext } from "../context.js";
import * as envs from "../store/environments.repo.js";
import { toEnvironment } from "../store/mappers.js";

export function registerEnvironmentHandlers(ctx: HandlerContext, on: Registrar): void {
  const { db, clock, ids } = ctx;

  on(SessionLog.environmentsCreate, async (p) => {
    const row = await envs.insertEnvironment(db.kysely, {
      id: ids.next("environment"),
      name: p.name,
      description: p.description ?? null,
      config: resolveEnvironmentConfig(p.config),
      metadata: p.metadata ?? {},
      scope: p.scope ?? "organization",
      now: clock.now(),
    });
    return toEnvironment(row);
  });

  on(SessionLog.environmentsRetrieve, async ({ id }) =>
    toEnvironment(await envs.getEnvironment(db.kysely, id)),
  );

  on(SessionLog.environmentsUpdate, async ({ id, params: p }) =>
    db.kysely.transaction().execute(async (trx) => {
      const cur = await envs.getEnvironment(trx, id, { forUpdate: true });
      if (cur.archived_at) {
        throw new ValidationError(`environment ${id} is archived and cannot be updated`, {
          details: { error_code: "environment_archived" },
        });
      }
      const curConfig = cur.config as EnvironmentConfig;
      let config = curConfig;
      if (p.config) {
        if (p.config.type !== curConfig.type) {
          throw new ValidationError(
            `config.type cannot change from "${curConfig.type}" to "${p.config.type}"`,
            {
              details: { error_code: "invalid_config_type_change" },
            },
          );
        }
        config = resolveEnvironmentConfig(p.config);
      }
      const row = await envs.updateEnvironment(trx, id, {
        name: p.name ?? cur.name,
        description: p.description === undefined ? cur.description : p.description,
        config,
        metadata: applyMetadataPatch(cur.metadata, p.metadata),
        scope: p.scope ?? cur.scope,
        now: clock.now(),
      });
      return toEnvironment(row);
    }),
  );

  on(SessionLog.environmentsList, async (q) => {
    const limit = q.limit ?? 20;
    const rows = await envs.listEnvironments(db.kysely, {
      includeArchived: q.include_archived ?? false,
      limit: limit + 1,
      after: decodeCursor(q.page, "desc"),
    });
    const data = rows.slice(0, limit);
    const last = data.at(-1);
    return {
      data: data.map(toEnvironment),
      next_page:
        rows.length > limit && last
          ? encodeCursor({ o: "desc", d: "n", k: [last.created_at.toISOString(), last.id] })
          : null,
    };
  });

  on(SessionLog.environmentsArchive, async ({ id }) => {
    await envs.getEnvironment(db.kysely, id);
    return toEnvironment(await envs.archiveEnvironment(db.kysely, id, clock.now()));
  });

  on(SessionLog.environmentsDelete, async ({ id }) =>
    db.kysely.transaction().execute(async (trx) => {
      await envs.getEnvironment(trx, id, { forUpdate: true });
      const live = await envs.countLiveSessionsIn(trx, id);
      if (live > 0) {
        throw new ValidationError(
          `environment ${id} is used by ${live} session(s) that are not archived or terminated; archive or delete them first`,
          { details: { error_code: "environment_in_use" } },
        );
      }
      await envs.deleteEnvironment(trx, id);
      return { id, type: "environment_deleted" as const };
    }),
  );
}
