/**
 * A credential's `auth`, split into what responses may show and what must stay sealed, and the
 * update rules of spec §8: the type cannot change; `mcp_server_url`, `secret_name`, `client_id`
 * and `token_endpoint` are immutable; omitted fields keep their values; `injection_location` with
 * both sides false is refused. Pure.
 */
import {
  type CredentialAuthCreate,
  type CredentialAuthPublic,
  type CredentialAuthUpdate,
  ValidationError,
} from "@tendon/contracts";

/** The sealed half. Only the credential-proxy ever holds it in memory. */
export interface CredentialSecret {
  token?: string;
  access_token?: string;
  refresh_token?: string;
  client_secret?: string;
  secret_value?: string;
}

export interface SplitAuth {
  public: CredentialAuthPublic;
  secret: CredentialSecret;
  /** The value unique among a vault's active credentials. */
  matchKey: string;
}

function injection(loc: { header?: boolean | undefined; body?: boolean | undefined } | undefined) {
  // Omitted → both; given → missing fields are false (spec §8).
  const out =
    loc === undefined
      ? { header: true, body: true }
      : { header: loc.header ?? false, body: loc.body ?? false };
  if (!out.header && !out.body) {
    throw new ValidationError("injection_location: at least one of header or body must be true");
  }
  return out;
}

export function splitCreate(auth: CredentialAuthCreate): SplitAuth {
  switch (auth.type) {
    case "static_bearer":
      return {
        public: { type: "static_bearer", mcp_server_url: auth.mcp_server_url },
        secret: { token: auth.token },
        matchKey: auth.mcp_server_url,
      };
    case "mcp_oauth": {
      const r = auth.refresh;
      return {
        public: {
          type: "mcp_oauth",
          mcp_server_url: auth.mcp_server_url,
          expires_at: auth.expires_at ?? null,
          refresh: r
            ? {
                client_id: r.client_id,
                token_endpoint: r.token_endpoint,
                token_endpoint_auth: { type: r.token_endpoint_auth.type },
                scope: r.scope ?? null,
                resource: r.resource ?? null,
              }
            : null,
        },
        secret: {
          access_token: auth.access_token,
          ...(r ? { refresh_token: r.refresh_token } : {}),
          ...(r && r.token_endpoint_auth.type !== "none"
            ? { client_secret: r.token_endpoint_auth.client_secret }
            : {}),
        },
        matchKey: auth.mcp_server_url,
      };
    }
    case "environment_variable":
      return {
        public: {
          type: "environment_variable",
          secret_name: auth.secret_name,
          networking: auth.networking,
          injection_location: injection(auth.injection_location),
        },
        secret: { secret_value: auth.secret_value },
        matchKey: auth.secret_name,
      };
  }
}

export function applyUpdate(
  pub: CredentialAuthPublic,
  secret: CredentialSecret,
  u: CredentialAuthUpdate,
): { public: CredentialAuthPublic; secret: CredentialSecret } {
  if (u.type !== pub.type) {
    throw new ValidationError(
      `auth.type cannot change from "${pub.type}" to "${u.type}"; archive it and create a new credential`,
      {
        details: { error_code: "invalid_auth_type_change" },
      },
    );
  }
  if (u.type === "static_bearer" && pub.type === "static_bearer") {
    return { public: pub, secret: u.token ? { token: u.token } : secret };
  }
  if (u.type === "environment_variable" && pub.type === "environment_variable") {
    const merged =
      u.injection_location === undefined
        ? pub.injection_location
        : injection({ ...pub.injection_location, ...u.injection_location });
    return {
      public: { ...pub, networking: u.networking ?? pub.networking, injection_location: merged },
      secret: u.secret_value ? { secret_value: u.secret_value } : secret,
    };
  }
  if (u.type === "mcp_oauth" && pub.type === "mcp_oauth") {
    const next: CredentialSecret = { ...secret, ...(u.access_token ? { access_token: u.access_token } : {}) };
    let refresh = pub.refresh ?? null;
    if (u.refresh === null) {
      refresh = null;
      delete next.refresh_token;
      delete next.client_secret;
    } else if (u.refresh) {
      if (!refresh)
        throw new ValidationError("refresh cannot be added by an update; create a new credential");
      if (u.refresh.refresh_token) next.refresh_token = u.refresh.refresh_token;
      if (u.refresh.token_endpoint_auth) {
        refresh = { ...refresh, token_endpoint_auth: { type: u.refresh.token_endpoint_auth.type } };
        if (u.refresh.token_endpoint_auth.client_secret)
          next.client_secret = u.refresh.token_endpoint_auth.client_secret;
      }
      if (u.refresh.scope !== undefined) refresh = { ...refresh, scope: u.refresh.scope };
    }
    return {
      public: {
        ...pub,
        expires_at: u.expires_at === undefined ? (pub.expires_at ?? null) : u.expires_at,
        refresh,
      },
      secret: next,
    };
  }
  throw new ValidationError("unsupported auth update");
}
