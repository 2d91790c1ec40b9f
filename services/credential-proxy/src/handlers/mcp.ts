/**
 * The MCP proxy: lists and calls an MCP server's tools for a session, attaching the credential
 * whose `mcp_server_url` equals the server's URL in the session's vaults (first vault wins), and
 * refreshing an expired OAuth access token with its refresh token (storing the new tokens sealed).
 * The harness gets tool lists and results, never a token.
 */
import type { Registrar } from "@tendon/bus";
import { AppError, type CredentialAuthPublic, CredentialProxy, type ToolResult } from "@tendon/contracts";
import {
  callMcpTool,
  listMcpTools,
  McpAuthenticationError,
  type McpAuthProvider,
  McpConnectionError,
  refreshOAuthToken,
} from "@tendon/mcp";
import { serializeError } from "@tendon/runtime";
import type { CredentialProxyContext } from "../context.js";
import type { CredentialSecret } from "../domain/credential-auth.js";
import * as repo from "../store/vaults.repo.js";

/** Auth for one server from the session's vaults (first vault wins). */
async function authFor(
  ctx: CredentialProxyContext,
  vaultIds: string[],
  url: string,
): Promise<McpAuthProvider> {
  const cred = (await repo.activeCredentialsOf(ctx.db.kysely, vaultIds)).find(
    (c) => (c.auth_type === "static_bearer" || c.auth_type === "mcp_oauth") && c.match_key === url,
  );
  return cred ? authForCredential(ctx, cred.id, url) : { headers: async () => ({}) };
}

interface TrackedAuth extends McpAuthProvider {
  /** The outcome of the last refresh attempt, if one was made. */
  refreshOutcome?: "succeeded" | "failed" | "no_refresh_token";
}

/** Auth from one credential; a refresh re-seals the new tokens. */
function authForCredential(ctx: CredentialProxyContext, id: string, url: string): TrackedAuth {
  const load = async () => {
    const row = await ctx.db.kysely
      .selectFrom("credentials")
      .selectAll()
      .where("id", "=", id)
      .executeTakeFirstOrThrow();
    return { row, secret: ctx.secrets.open(row), pub: row.auth_public as CredentialAuthPublic };
  };
  const bearer = (s: CredentialSecret) => s.token ?? s.access_token;
  const tracked: TrackedAuth = {
    async headers(): Promise<Record<string, string>> {
      const { secret } = await load();
      const token = bearer(secret);
      return token ? { Authorization: `Bearer ${token}` } : {};
    },
    async refresh(opts) {
      const { secret, pub } = await load();
      if (pub.type !== "mcp_oauth" || !pub.refresh || !secret.refresh_token) {
        tracked.refreshOutcome = "no_refresh_token";
        return false;
      }
      tracked.refreshOutcome = "failed";
      const auth =
        pub.refresh.token_endpoint_auth.type === "none"
          ? ({ type: "none" } as const)
          : { type: pub.refresh.token_endpoint_auth.type, clientSecret: secret.client_secret ?? "" };
      const tokens = await refreshOAuthToken(
        {
          tokenEndpoint: pub.refresh.token_endpoint,
          clientId: pub.refresh.client_id,
          refreshToken: secret.refresh_token,
          auth,
          ...(pub.refresh.scope ? { scope: pub.refresh.scope } : {}),
          ...(pub.refresh.resource ? { resource: pub.refresh.resource } : {}),
        },
        opts?.signal ? { signal: opts.signal } : {},
      );
      const next: CredentialSecret = {
        ...secret,
        access_token: tokens.accessToken,
        ...(tokens.refreshToken ? { refresh_token: tokens.refreshToken } : {}),
      };
      const sealed = ctx.secrets.seal(next, id);
      await ctx.db.kysely
        .updateTable("credentials")
        .set({
          secret_ciphertext: sealed.ciphertext,
          secret_nonce: sealed.nonce,
          key_id: sealed.key_id,
          auth_public: JSON.stringify({ ...pub, expires_at: tokens.expiresAt ?? null }),
          updated_at: ctx.clock.now(),
        })
        .where("id", "=", id)
        .execute();
      ctx.log.info("mcp access token refreshed", { credential_id: id, mcp_server_url: url });
      tracked.refreshOutcome = "succeeded";
      return true;
    },
  };
  return tracked;
}

function toAppError(server: string, e: unknown): AppError {
  if (e instanceof McpAuthenticationError) {
    return new AppError(
      "authentication",
      `MCP server "${server}" rejected the session's credentials: ${e.message}`,
      {
        details: { error_code: "mcp_authentication_failed" },
      },
    );
  }
  if (e instanceof McpConnectionError) {
    return new AppError("unavailable", `MCP server "${server}" could not be reached: ${e.message}`, {
      retryable: false,
      details: { error_code: "mcp_connection_failed" },
    });
  }
  return e instanceof AppError ? e : new AppError("internal", `MCP call to "${server}" failed`, { cause: e });
}

export function registerMcpHandlers(ctx: CredentialProxyContext, on: Registrar): void {
  on(CredentialProxy.credentialsValidate, async ({ vault_id, id }) => {
    const row = await repo.getCredential(ctx.db.kysely, vault_id, id);
    const pub = row.auth_public as CredentialAuthPublic;
    if (pub.type === "environment_variable") {
      throw new AppError(
        "invalid_request",
        "only MCP credentials (static_bearer, mcp_oauth) can be validated",
      );
    }
    const secret = ctx.secrets.open(row);
    const auth = authForCredential(ctx, id, pub.mcp_server_url);
    let status: "valid" | "invalid" | "unknown";
    try {
      await listMcpTools({ name: "validation", url: pub.mcp_server_url }, auth, { timeoutMs: 20_000 });
      status = "valid";
    } catch (e) {
      status = e instanceof McpAuthenticationError ? "invalid" : "unknown";
    }
    return {
      type: "vault_credential_validation" as const,
      credential_id: id,
      vault_id,
      status,
      has_refresh_token: secret.refresh_token !== undefined,
      mcp_probe: { method: "tools/list", http_response: null },
      refresh: auth.refreshOutcome ? { status: auth.refreshOutcome, http_response: null } : null,
      validated_at: ctx.clock.now().toISOString(),
    };
  });

  on(CredentialProxy.mcpListTools, async ({ session_id, vault_ids, server }) => {
    try {
      const auth = await authFor(ctx, vault_ids, server.url);
      const tools = await listMcpTools(server, auth, { timeoutMs: 20_000 });
      return {
        tools: tools.map((t) => ({
          name: t.name,
          ...(t.description ? { description: t.description } : {}),
          input_schema: t.inputSchema,
        })),
      };
    } catch (e) {
      ctx.log.warn("mcp list failed", { session_id, server: server.name, err: serializeError(e) });
      throw toAppError(server.name, e);
    }
  });

  on(
    CredentialProxy.mcpCallTool,
    async ({ session_id, vault_ids, server, tool, input, deadline_ms }): Promise<ToolResult> => {
      try {
        const auth = await authFor(ctx, vault_ids, server.url);
        const r = await callMcpTool(server, auth, tool, input, { timeoutMs: deadline_ms });
        return { content: r.content, is_error: r.isError };
      } catch (e) {
        ctx.log.warn("mcp call failed", { session_id, server: server.name, tool, err: serializeError(e) });
        throw toAppError(server.name, e);
      }
    },
  );
}
