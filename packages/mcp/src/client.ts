/**
 * The MCP client the credential-proxy uses: list and call tools on a remote MCP server over the
 * streamable HTTP transport, with credentials supplied per request by an `McpAuthProvider`.
 *
 * Invariants:
 * - One operation = one MCP connection: connect (initialize), the request(s), then a best-effort
 *   session DELETE and close. Nothing (timers, streams, sockets) outlives the returned promise.
 * - Every HTTP request of the operation carries `auth.headers()` (fetched once, and again after a
 *   successful refresh). On a 401 `auth.refresh()` runs at most once per operation (concurrent
 *   401s share it) and each request is retried at most once; a 401/403 after that is an
 *   `McpAuthenticationError`. A 401 means the server did not run the call, so retrying is safe.
 * - The whole operation is bounded by `timeoutMs` (default 60 s) → `McpConnectionError`; the
 *   caller's `signal` aborts it → rejects with the signal's reason (`AbortError` by default).
 * - Unreachable server, bad URL, HTTP errors and protocol failures → `McpConnectionError`. A
 *   JSON-RPC error answering `tools/call` (unknown tool, invalid arguments, server fault) is a
 *   failed tool call, not a broken connection: it becomes `{ isError: true }` with the error text.
 * - Thrown messages are scrubbed of every header value the provider returned (see errors.ts) and
 *   name the server by `name` and origin+path only. Errors thrown by `auth.headers()` propagate
 *   unchanged (they are the provider's own); errors thrown by `auth.refresh()` are wrapped
 *   (`McpConnectionError` stays a connection error, anything else is an authentication error).
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import {
  StreamableHTTPClientTransport,
  StreamableHTTPError,
} from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { RequestOptions } from "@modelcontextprotocol/sdk/shared/protocol.js";
import { ErrorCode, McpError } from "@modelcontextprotocol/sdk/types.js";
import { type McpCallResult, mapCallToolResult } from "./content.js";
import {
  abortError,
  describeUrl,
  McpAuthenticationError,
  McpConnectionError,
  networkErrorCode,
  Redactor,
} from "./errors.js";

export interface McpServerRef {
  /** The agent's `mcp_servers[].name`; reported as `mcp_server_name` in errors. */
  name: string;
  url: string;
}

/** Supplies auth for a server; the credential-proxy implements it from the vault. */
export interface McpAuthProvider {
  /** Headers to send (e.g. `{ Authorization: "Bearer ..." }`), or `{}` when the server needs none. */
  headers(): Promise<Record<string, string>>;
  /** Called once after a 401: refresh the token if possible; `true` means "try again". */
  refresh?(opts?: { signal?: AbortSignal }): Promise<boolean>;
}

export interface McpTool {
  name: string;
  description?: string;
  inputSchema: Record<string, unknown>;
}

export interface McpRequestOptions {
  signal?: AbortSignal;
  /** Deadline for the whole operation (connect + request). @default 60000 */
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 60_000;
/** `tools/list` pages followed at most (a server that always returns a cursor must not loop us). */
const MAX_LIST_PAGES = 100;
const CLIENT_INFO = { name: "tendon", version: "0.1.0" };

/** An auth provider for a fixed bearer token (`static_bearer` credentials), or none. */
export function staticBearerAuth(token?: string): McpAuthProvider {
  const headers: Record<string, string> = token ? { Authorization: `Bearer ${token}` } : {};
  return { headers: async () => ({ ...headers }) };
}

/** Per-operation state: credentials, the shared refresh, and what went wrong. */
class Operation {
  readonly redactor = new Redactor();
  readonly where: string;
  authFailureStatus: number | undefined;
  refreshAttempted = false;
  refreshError: unknown;
  headersError: unknown;
  #headers: Promise<Record<string, string>> | undefined;
  #refresh: Promise<boolean> | undefined;

  constructor(
    readonly server: McpServerRef,
    readonly auth: McpAuthProvider,
    readonly signal: AbortSignal,
  ) {
    this.where = `MCP server "${server.name}" (${describeUrl(server.url)})`;
  }

  headers(): Promise<Record<string, string>> {
    this.#headers ??= this.auth.headers().then(
      (h) => {
        this.redactor.addHeaders(h);
        return h;
      },
      (err: unknown) => {
        this.headersError = err;
        throw err;
      },
    );
    return this.#headers;
  }

  /** Runs `auth.refresh()` once for the whole operation; later callers share the outcome. */
  refreshOnce(): Promise<boolean> {
    const refresh = this.auth.refresh?.bind(this.auth);
    if (!refresh) return Promise.resolve(false);
    this.#refresh ??= (async () => {
      this.refreshAttempted = true;
      try {
        const ok = await refresh({ signal: this.signal });
        if (ok) this.#headers = undefined;
        return ok;
      } catch (err) {
        this.refreshError = err;
        return false;
      }
    })();
    return this.#refresh;
  }

  /** The fetch the transport uses: adds credentials and handles the one refresh-and-retry. */
  readonly fetch = async (url: string | URL, init?: RequestInit): Promise<Response> => {
    const send = async (): Promise<Response> => {
      const headers = new Headers(init?.headers);
      for (const [k, v] of Object.entries(await this.headers())) headers.set(k, v);
      const signal = init?.signal ? AbortSignal.any([init.signal, this.signal]) : this.signal;
      return fetch(url, { ...init, headers, signal });
    };
    let res = await send();
    if (res.status === 401 && this.auth.refresh) {
      await res.body?.cancel();
      if (await this.refreshOnce()) res = await send();
      else res = new Response(null, { status: 401, statusText: "Unauthorized" });
    }
    if (res.status === 401 || res.status === 403) this.authFailureStatus = res.status;
    return res;
  };

  /** Turns whatever the SDK or fetch threw into this package's error contract. */
  toError(
    err: unknown,
    userSignal: AbortSignal | undefined,
    timeout: AbortSignal,
    timeoutMs: number,
  ): unknown {
    const serverName = this.server.name;
    if (userSignal?.aborted) return abortError(userSignal);
    if (err === this.headersError) return err;
    if (timeout.aborted) {
      return new McpConnectionError(`${this.where}: timed out after ${timeoutMs} ms`, { serverName });
    }
    if (this.refreshError !== undefined) {
      const e = this.refreshError;
      const msg = e instanceof Error ? this.redactor.scrub(e.message) : "unknown error";
      if (e instanceof McpConnectionError) {
        return new McpConnectionError(`${this.where}: credential refresh failed: ${msg}`, { serverName });
      }
      const oauthError = e instanceof McpAuthenticationError ? e.oauthError : undefined;
      return new McpAuthenticationError(`${this.where}: credential refresh failed: ${msg}`, {
        serverName,
        status: 401,
        oauthError,
      });
    }
    if (this.authFailureStatus !== undefined) {
      const status = this.authFailureStatus;
      const after = this.refreshAttempted ? " after a token refresh" : "";
      return new McpAuthenticationError(`${this.where}: credential rejected (HTTP ${status})${after}`, {
        serverName,
        status,
      });
    }
    if (err instanceof StreamableHTTPError) {
      const status = typeof err.code === "number" && err.code > 0 ? err.code : undefined;
      return new McpConnectionError(`${this.where}: HTTP ${status ?? "error"}`, { serverName, status });
    }
    if (err instanceof McpError) {
      return new McpConnectionError(`${this.where}: ${this.redactor.scrub(err.message)}`, { serverName });
    }
    const code = networkErrorCode(err);
    if (code || (err instanceof TypeError && err.message === "fetch failed")) {
      return new McpConnectionError(`${this.where}: unreachable${code ? ` (${code})` : ""}`, { serverName });
    }
    const detail = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    return new McpConnectionError(`${this.where}: protocol error: ${this.redactor.scrub(detail)}`, {
      serverName,
    });
  }
}

/** Connects, runs `fn`, and always tears the connection down; maps every failure. */
async function withClient<T>(
  server: McpServerRef,
  auth: McpAuthProvider,
  opts: McpRequestOptions,
  fn: (client: Client, reqOpts: RequestOptions, op: Operation) => Promise<T>,
): Promise<T> {
  const userSignal = opts.signal;
  userSignal?.throwIfAborted();
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = userSignal ? AbortSignal.any([userSignal, timeout]) : timeout;
  const op = new Operation(server, auth, signal);

  let url: URL;
  try {
    url = new URL(server.url);
  } catch {
    throw new McpConnectionError(`${op.where}: invalid URL`, { serverName: server.name });
  }
  op.redactor.addUrl(url);
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new McpConnectionError(`${op.where}: unsupported protocol ${url.protocol}`, {
      serverName: server.name,
    });
  }
  if (url.username || url.password) {
    throw new McpConnectionError(`${op.where}: credentials in the URL are not supported`, {
      serverName: server.name,
    });
  }

  const transport = new StreamableHTTPClientTransport(url, {
    fetch: op.fetch,
    // The optional GET stream is never resumed: the operation ends with its request.
    reconnectionOptions: {
      maxRetries: 0,
      initialReconnectionDelay: 1000,
      maxReconnectionDelay: 1000,
      reconnectionDelayGrowFactor: 1,
    },
  });
  const client = new Client(CLIENT_INFO, { capabilities: {} });
  // Background failures (the optional GET stream) do not decide the outcome; the request does.
  client.onerror = () => {};
  // Our signal carries the deadline; the SDK's own timer is only a backstop behind it.
  const reqOpts: RequestOptions = { signal, timeout: timeoutMs + 5_000 };
  try {
    await client.connect(transport, reqOpts);
    return await fn(client, reqOpts, op);
  } catch (err) {
    throw op.toError(err, userSignal, timeout, timeoutMs);
  } finally {
    if (transport.sessionId !== undefined && !signal.aborted) {
      await transport.terminateSession().catch(() => {});
    }
    await client.close().catch(() => {});
  }
}

/** Lists the server's tools (all pages). */
export function listMcpTools(
  server: McpServerRef,
  auth: McpAuthProvider,
  opts: McpRequestOptions = {},
): Promise<McpTool[]> {
  return withClient(server, auth, opts, async (client, reqOpts) => {
    const tools: McpTool[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < MAX_LIST_PAGES; page++) {
      const res = await client.listTools(cursor === undefined ? {} : { cursor }, reqOpts);
      for (const t of res.tools) {
        const tool: McpTool = { name: t.name, inputSchema: t.inputSchema as Record<string, unknown> };
        if (t.description !== undefined) tool.description = t.description;
        tools.push(tool);
      }
      cursor = res.nextCursor;
      if (cursor === undefined) break;
    }
    return tools;
  });
}

/** JSON-RPC error codes the SDK raises locally; they are connection failures, not tool results. */
const LOCAL_ERROR_CODES: ReadonlySet<number> = new Set([
  ErrorCode.ConnectionClosed,
  ErrorCode.RequestTimeout,
]);

/** Calls one tool and maps its result; a JSON-RPC error from the server is an `isError` result. */
export function callMcpTool(
  server: McpServerRef,
  auth: McpAuthProvider,
  tool: string,
  input: Record<string, unknown>,
  opts: McpRequestOptions = {},
): Promise<McpCallResult> {
  return withClient(server, auth, opts, async (client, reqOpts, op) => {
    try {
      const res = await client.callTool({ name: tool, arguments: input }, undefined, reqOpts);
      return mapCallToolResult(res);
    } catch (err) {
      if (err instanceof McpError && !LOCAL_ERROR_CODES.has(err.code) && !op.signal.aborted) {
        return { content: [{ type: "text", text: op.redactor.scrub(err.message, 2000) }], isError: true };
      }
      throw err;
    }
  });
}
