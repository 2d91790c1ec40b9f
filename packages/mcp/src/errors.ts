/**
 * Error classes and the secret scrubber shared by the MCP client and the OAuth refresh.
 *
 * Invariants:
 * - Every error this package throws is built from a message that went through `Redactor.scrub`
 *   (or contains no remote text at all), so neither `String(err)` nor `err.stack` can carry a
 *   token, refresh token or client secret. The stack is computed from the scrubbed message.
 * - No error carries a `cause`: causes from fetch/the SDK may hold request headers or bodies, and
 *   loggers serialise causes. What matters from the cause (an errno code, an HTTP status, a
 *   JSON-RPC code) is copied into the message or a field instead.
 * - Server URLs appear only as `describeUrl()` output: origin and path, never userinfo or query;
 *   their userinfo and query values are registered as secrets too, in case a library quotes them.
 */

export interface McpErrorDetails {
  /** `McpServerRef.name` of the server concerned (for `session.error.mcp_server_name`). */
  serverName?: string;
  /** HTTP status, when the failure was an HTTP response. */
  status?: number;
  /** OAuth error code from the token endpoint (`invalid_grant`, `invalid_client`...). */
  oauthError?: string;
}

/** The MCP server (or token endpoint) is unreachable, timed out, or broke the protocol. Retryable. */
export class McpConnectionError extends Error {
  readonly serverName: string | undefined;
  readonly status: number | undefined;
  constructor(message: string, details: McpErrorDetails = {}) {
    super(message);
    this.name = "McpConnectionError";
    this.serverName = details.serverName;
    this.status = details.status;
  }
}

/** The credential was rejected (401/403 after the refresh attempt, or the refresh itself failed). */
export class McpAuthenticationError extends Error {
  readonly serverName: string | undefined;
  readonly status: number | undefined;
  readonly oauthError: string | undefined;
  constructor(message: string, details: McpErrorDetails = {}) {
    super(message);
    this.name = "McpAuthenticationError";
    this.serverName = details.serverName;
    this.status = details.status;
    this.oauthError = details.oauthError;
  }
}

const REDACTED = "[redacted]";
/** Shorter values are not scrubbed: they would mangle ordinary words and cannot be real secrets. */
const MIN_SECRET_LENGTH = 4;
/** Remote text copied into messages is cut to this many characters. */
const MAX_REMOTE_TEXT = 200;

/** Collects secret values seen during one operation and removes them from any text. */
export class Redactor {
  readonly #secrets = new Set<string>();

  /** Registers a secret; for header values also their parts (`Bearer abc` → `abc`, Basic payloads). */
  add(value: string | undefined): void {
    if (!value) return;
    const candidates = [value, ...value.split(/\s+/)];
    for (const c of candidates) {
      if (c.length < MIN_SECRET_LENGTH) continue;
      this.#secrets.add(c);
      this.#secrets.add(encodeURIComponent(c));
    }
  }

  /** Registers the parts of a URL that may carry credentials: userinfo, query values, the whole href. */
  addUrl(url: URL): void {
    this.add(url.username);
    this.add(url.password);
    for (const v of url.searchParams.values()) this.add(v);
    if (url.search || url.username || url.password) this.add(url.href);
  }

  /** Registers every header value (names are not secret). */
  addHeaders(headers: Record<string, string>): void {
    for (const v of Object.values(headers)) this.add(v);
  }

  /** `text` with every registered secret replaced, longest first, and cut to a bounded length. */
  scrub(text: string, maxLength = MAX_REMOTE_TEXT): string {
    let out = text;
    const secrets = [...this.#secrets].sort((a, b) => b.length - a.length);
    for (const s of secrets) out = out.split(s).join(REDACTED);
    // Defence in depth: a credential we were never told about still never survives verbatim.
    out = out.replace(/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi, `$1 ${REDACTED}`);
    return out.length > maxLength ? `${out.slice(0, maxLength)}…` : out;
  }
}

/** Origin and path of `url` (no userinfo, query or fragment); a placeholder if it does not parse. */
export function describeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return "<invalid URL>";
  }
}

/** The errno-style code of a network failure (`ECONNREFUSED`, `ENOTFOUND`...), if there is one. */
export function networkErrorCode(err: unknown): string | undefined {
  let cur: unknown = err;
  for (let depth = 0; depth < 5 && cur instanceof Error; depth++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === "string" && /^[A-Z][A-Z0-9_]+$/.test(code)) return code;
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}

/** The error to throw when the caller's own signal aborted: its reason, or a standard AbortError. */
export function abortError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error) return reason;
  return new DOMException("The operation was aborted", "AbortError");
}
