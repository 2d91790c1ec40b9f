/**
 * Session repository resources (spec §3.6 github_repository): the session-log keeps the public
 * half for the API; this keeps what a sandbox needs — what to clone where — and the write-only
 * token, sealed, which the egress proxy injects as HTTP Basic auth into git requests for that
 * repository's path only. A sandbox never holds the token: its remote URL carries none.
 */
import type { Registrar } from "@tendon/bus";
import { AppError, CredentialProxy, type RepositorySpec } from "@tendon/contracts";
import type { InjectedHeaders } from "@tendon/egress";
import type { CredentialProxyContext } from "../context.js";

export interface SessionRepository extends RepositorySpec {
  /** The token, opened; only ever handed to the egress proxy. */
  token: string | undefined;
}

/** A repository URL's host rule (host or host:port) and the path prefix its git requests share. */
export function repositoryScope(url: string): { host: string; pathPrefix: string } {
  const u = new URL(url);
  return {
    host: u.port ? `${u.hostname}:${u.port}` : u.hostname,
    pathPrefix: `${u.pathname.replace(/\/+$/, "")}/`,
  };
}

/** Headers git would send for `x-access-token:<token>` (GitHub's convention for token auth). */
export function injectRulesFor(repos: SessionRepository[]): InjectedHeaders[] {
  return repos.flatMap((r) => {
    if (!r.token) return [];
    const { host, pathPrefix } = repositoryScope(r.url);
    const basic = Buffer.from(`x-access-token:${r.token}`).toString("base64");
    return [
      {
        credentialId: r.resource_id,
        hosts: [host],
        pathPrefix,
        headers: { Authorization: `Basic ${basic}` },
      },
    ];
  });
}

export async function repositoriesOf(
  ctx: CredentialProxyContext,
  sessionId: string,
): Promise<SessionRepository[]> {
  const rows = await ctx.db.kysely
    .selectFrom("session_repositories")
    .selectAll()
    .where("session_id", "=", sessionId)
    .orderBy("created_at")
    .orderBy("id")
    .execute();
  return rows.map((r) => ({
    resource_id: r.id,
    url: r.url,
    mount_path: r.mount_path,
    checkout: (r.checkout as RepositorySpec["checkout"]) ?? null,
    token: r.secret_ciphertext ? ctx.secrets.open(r).token : undefined,
  }));
}

export function registerRepositoryHandlers(ctx: CredentialProxyContext, on: Registrar): void {
  const sealed = (resourceId: string, token: string | undefined) => {
    if (token === undefined) return { secret_ciphertext: null, secret_nonce: null, key_id: null };
    const s = ctx.secrets.seal({ token }, resourceId);
    return { secret_ciphertext: s.ciphertext, secret_nonce: s.nonce, key_id: s.key_id };
  };

  on(CredentialProxy.repositoriesPut, async ({ session_id, repositories }) => {
    const now = ctx.clock.now();
    await ctx.db.kysely.transaction().execute(async (trx) => {
      for (const r of repositories) {
        const values = {
          session_id,
          url: r.url,
          mount_path: r.mount_path,
          checkout: r.checkout ? JSON.stringify(r.checkout) : null,
          ...sealed(r.resource_id, r.authorization_token),
          updated_at: now,
        };
        const done = await trx
          .insertInto("session_repositories")
          .values({ id: r.resource_id, ...values, created_at: now })
          .onConflict((oc) =>
            oc.column("id").doUpdateSet(values).where("session_repositories.session_id", "=", session_id),
          )
          .executeTakeFirst();
        if (done.numInsertedOrUpdatedRows === 0n) {
          throw new AppError("conflict", `resource ${r.resource_id} belongs to another session`);
        }
      }
    });
    return {};
  });

  on(CredentialProxy.repositoriesSetToken, async ({ session_id, resource_id, authorization_token }) => {
    const done = await ctx.db.kysely
      .updateTable("session_repositories")
      .set({ ...sealed(resource_id, authorization_token), updated_at: ctx.clock.now() })
      .where("id", "=", resource_id)
      .where("session_id", "=", session_id)
      .executeTakeFirst();
    if (done.numUpdatedRows === 0n) throw new AppError("not_found", `resource ${resource_id} not found`);
    return {};
  });

  on(CredentialProxy.repositoriesDelete, async ({ session_id, resource_id }) => {
    let q = ctx.db.kysely.deleteFrom("session_repositories").where("session_id", "=", session_id);
    if (resource_id) q = q.where("id", "=", resource_id);
    await q.execute();
    return {};
  });
}
