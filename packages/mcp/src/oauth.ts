/**
 * OAuth 2.0 refresh_token grant (RFC 6749 §6) against a token endpoint, for `mcp_oauth` vault
 * credentials.
 *
 * Invariants:
 * - Client authentication follows RFC 6749 §2.3.1: `client_secret_basic` sends
 *   `Authorization: Basic base64(urlencode(id):urlencode(secret))`; `client_secret_post` and `none`
 *   send `client_id` (and `client_secret`) in the form body. The secret is never sent twice.
 * - `scope` and `resource` (RFC 8707) are sent only when given.
 * - Redirects are not followed (a redirect could carry the secret elsewhere): a 3xx is an error.
 * - Token endpoint rejections (4xx with an OAuth error, e.g. `invalid_grant`, `invalid_client`)
 *   → `McpAuthenticationError`; unreachable, timeout, 5xx, malformed response → `McpConnectionError`.
 *   Error messages are scrubbed of the refresh token and client secret (and of any token the
 *   endpoint returned).
 * - A caller abort rejects with the signal's reason (an `AbortError` by default).
 */
import {
  abortError,
  describeUrl,
  McpAuthenticationError,
  McpConnectionError,
  networkErrorCode,
  Redactor,
} from "./errors.js";

export type OAuthClientAuth =
  | { type: "none" }
  | { type: "client_secret_basic" | "client_secret_post"; clientSecret: string };

export interface OAuthRefreshParams {
  tokenEndpoint: string;
  clientId: string;
  refreshToken: string;
  auth: OAuthClientAuth;
  scope?: string;
  resource?: string;
}

export interface OAuthTokens {
  accessToken: string;
  /** The rotated refresh token, when the endpoint issued one (keep the old one otherwise). */
  refreshToken?: string;
  /** ISO 8601 expiry computed from `expires_in`, when the endpoint sent one. */
  expiresAt?: string;
  /** Granted scope, when the endpoint reported it. */
  scope?: string;
}

export interface OAuthRefreshOptions {
  signal?: AbortSignal;
  /** Overall deadline for the request. @default 30000 */
  timeoutMs?: number;
  fetch?: typeof fetch;
  /** Clock for `expiresAt`. @default Date.now */
  now?: () => number;
}

const DEFAULT_TIMEOUT_MS = 30_000;

/** `application/x-www-form-urlencoded` encoding of one value (RFC 6749 Appendix B). */
function formEncode(value: string): string {
  return new URLSearchParams({ v: value }).toString().slice(2);
}

/** Exchanges a refresh token for a new access token (and possibly a rotated refresh token). */
export async function refreshOAuthToken(
  p: OAuthRefreshParams,
  opts: OAuthRefreshOptions = {},
): Promise<OAuthTokens> {
  const redactor = new Redactor();
  redactor.add(p.refreshToken);
  if (p.auth.type !== "none") redactor.add(p.auth.clientSecret);
  const where = `token endpoint ${describeUrl(p.tokenEndpoint)}`;

  let url: URL;
  try {
    url = new URL(p.tokenEndpoint);
  } catch {
    throw new McpConnectionError(`${where}: invalid URL`);
  }
  redactor.addUrl(url);
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new McpConnectionError(`${where}: unsupported protocol ${url.protocol}`);
  }
  if (url.username || url.password) {
    throw new McpConnectionError(`${where}: credentials in the URL are not supported`);
  }

  const body = new URLSearchParams({ grant_type: "refresh_token", refresh_token: p.refreshToken });
  if (p.scope) body.set("scope", p.scope);
  if (p.resource) body.set("resource", p.resource);
  const headers: Record<string, string> = {
    "content-type": "application/x-www-form-urlencoded",
    accept: "application/json",
  };
  if (p.auth.type === "client_secret_basic") {
    const pair = `${formEncode(p.clientId)}:${formEncode(p.auth.clientSecret)}`;
    headers.authorization = `Basic ${Buffer.from(pair).toString("base64")}`;
    redactor.add(headers.authorization);
  } else {
    body.set("client_id", p.clientId);
    if (p.auth.type === "client_secret_post") body.set("client_secret", p.auth.clientSecret);
  }

  opts.signal?.throwIfAborted();
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
  const doFetch = opts.fetch ?? fetch;

  let status: number;
  let text: string;
  try {
    const res = await doFetch(url, { method: "POST", headers, body, redirect: "manual", signal });
    status = res.status;
    text = await res.text();
  } catch (err) {
    if (opts.signal?.aborted) throw abortError(opts.signal);
    if (timeout.aborted) throw new McpConnectionError(`${where}: timed out after ${timeoutMs} ms`);
    const code = networkErrorCode(err);
    throw new McpConnectionError(`${where}: unreachable${code ? ` (${code})` : ""}`);
  }

  let json: Record<string, unknown> | undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed && typeof parsed === "object" && !Array.isArray(parsed))
      json = parsed as Record<string, unknown>;
  } catch {
    json = undefined;
  }

  if (status < 200 || status >= 300) {
    const oauthError = typeof json?.error === "string" ? redactor.scrub(json.error, 64) : undefined;
    if (status >= 400 && status < 500 && oauthError) {
      const desc =
        typeof json?.error_description === "string" ? `: ${redactor.scrub(json.error_description)}` : "";
      throw new McpAuthenticationError(
        `${where} rejected the refresh (HTTP ${status} ${oauthError}${desc})`,
        {
          status,
          oauthError,
        },
      );
    }
    if (status >= 300 && status < 400) {
      throw new McpConnectionError(`${where}: redirect (HTTP ${status}) not followed`, { status });
    }
    throw new McpConnectionError(`${where}: HTTP ${status}`, { status });
  }

  const accessToken = json?.access_token;
  if (typeof accessToken !== "string" || accessToken.length === 0) {
    throw new McpConnectionError(`${where}: response has no access_token`, { status });
  }
  const tokens: OAuthTokens = { accessToken };
  if (typeof json?.refresh_token === "string" && json.refresh_token.length > 0) {
    tokens.refreshToken = json.refresh_token;
  }
  const expiresIn = json?.expires_in;
  const seconds = typeof expiresIn === "string" ? Number(expiresIn) : expiresIn;
  if (typeof seconds === "number" && Number.isFinite(seconds) && seconds >= 0) {
    tokens.expiresAt = new Date((opts.now ?? Date.now)() + seconds * 1000).toISOString();
  }
  if (typeof json?.scope === "string") tokens.scope = json.scope;
  return tokens;
}
