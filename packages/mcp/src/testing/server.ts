/**
 * A real MCP server for tests: the SDK's low-level `Server` over the streamable HTTP transport on
 * node:http (127.0.0.1, random port), guarded by bearer tokens, plus an OAuth token endpoint that
 * implements the refresh_token grant with rotating refresh tokens.
 *
 * Invariants:
 * - `POST|GET|DELETE /mcp` require `Authorization: Bearer <token>` where the token is the static
 *   token or the newest issued access token and it has not expired; otherwise 401 with
 *   `WWW-Authenticate: Bearer error="invalid_token"` (the MCP layer never sees the request).
 *   Issuing a new access token revokes the previous one.
 * - `POST /oauth/token` accepts only `grant_type=refresh_token` with the current refresh token,
 *   which it rotates. Client authentication must match the configuration: with a `clientSecret`,
 *   exactly one of `client_secret_basic` / `client_secret_post`; without, `none` (client_id in
 *   the body, no secret). Errors follow RFC 6749 §5.2.
 * - Sessions are stateful (`Mcp-Session-Id`); `stop()` closes every session, drops every
 *   connection (in-flight tool runs included) and resolves when the listener is closed.
 * - Tool inputs are passed through unvalidated; a tool that throws yields `isError: true`; an
 *   unknown tool is a JSON-RPC `InvalidParams` error.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import {
  CallToolRequestSchema,
  type CallToolResult,
  ErrorCode,
  isInitializeRequest,
  ListToolsRequestSchema,
  McpError,
} from "@modelcontextprotocol/sdk/types.js";

/** What a test tool returns: plain text, or raw MCP content blocks (images, resources...). */
export type TestToolOutput = string | { content: CallToolResult["content"]; isError?: boolean };

export interface TestTool {
  name: string;
  description: string;
  inputSchema: Record<string, unknown>;
  run(input: Record<string, unknown>): Promise<TestToolOutput> | TestToolOutput;
}

export interface TestOAuthConfig {
  clientId: string;
  /** Set → the client must authenticate with it (basic or post); unset → a public client (`none`). */
  clientSecret?: string;
  accessTtlMs: number;
  initialAccessToken: string;
  initialRefreshToken: string;
}

export interface TestMcpServerOptions {
  /** Default: `echo` ({ text }) → text, and `add` ({ a, b }) → the sum as text. */
  tools?: TestTool[];
  oauth: TestOAuthConfig;
  /** Alternatively accept one fixed bearer token. */
  staticToken?: string;
}

export interface IssuedToken {
  accessToken: string;
  refreshToken: string;
  /** Epoch ms. */
  expiresAt: number;
}

export interface TokenRequest {
  authMethod: "none" | "client_secret_basic" | "client_secret_post";
  clientId: string | undefined;
  grantType: string | undefined;
  scope: string | undefined;
  resource: string | undefined;
  /** The OAuth error returned, or undefined when tokens were issued. */
  error: string | undefined;
}

export interface TestMcpServer {
  /** e.g. `http://127.0.0.1:port/mcp` */
  url: string;
  /** `http://127.0.0.1:port/oauth/token` */
  tokenEndpoint: string;
  /** Every Authorization value the MCP endpoint received (the token for `Bearer`, else the raw value). */
  seenTokens(): string[];
  /** Tokens issued so far (initial + refreshed), newest last. */
  issued(): IssuedToken[];
  /** Every token endpoint request, oldest first. */
  tokenRequests(): TokenRequest[];
  /** Every tool call the MCP layer dispatched (after auth), oldest first. */
  toolCalls(): Array<{ name: string; input: Record<string, unknown> }>;
  /** Makes the current access token expire now (the next call gets 401). */
  expireAccessToken(): void;
  stop(): Promise<void>;
}

export const DEFAULT_TEST_TOOLS: readonly TestTool[] = [
  {
    name: "echo",
    description: "Returns its `text` argument unchanged.",
    inputSchema: { type: "object", properties: { text: { type: "string" } }, required: ["text"] },
    run: (input) => String(input.text ?? ""),
  },
  {
    name: "add",
    description: "Adds two numbers.",
    inputSchema: {
      type: "object",
      properties: { a: { type: "number" }, b: { type: "number" } },
      required: ["a", "b"],
    },
    run: (input) => String(Number(input.a) + Number(input.b)),
  },
];

const MAX_BODY_BYTES = 1_000_000;

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        reject(new Error("body too large"));
        req.destroy();
      } else chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store", ...headers });
  res.end(JSON.stringify(body));
}

function newToken(prefix: string): string {
  return `${prefix}_${randomBytes(16).toString("hex")}`;
}

/** Form-decoding of one `client_secret_basic` component (RFC 6749 §2.3.1). */
function formDecode(v: string): string {
  return new URLSearchParams(`v=${v}`).get("v") ?? "";
}

interface Session {
  transport: StreamableHTTPServerTransport;
  server: Server;
}

export async function startTestMcpServer(opts: TestMcpServerOptions): Promise<TestMcpServer> {
  const tools = opts.tools ?? DEFAULT_TEST_TOOLS;
  const { oauth } = opts;
  const seen: string[] = [];
  const issued: IssuedToken[] = [
    {
      accessToken: oauth.initialAccessToken,
      refreshToken: oauth.initialRefreshToken,
      expiresAt: Date.now() + oauth.accessTtlMs,
    },
  ];
  const tokenRequests: TokenRequest[] = [];
  const toolCalls: Array<{ name: string; input: Record<string, unknown> }> = [];
  const sessions = new Map<string, Session>();

  const current = (): IssuedToken => issued[issued.length - 1]!;

  function authorized(req: IncomingMessage): boolean {
    const header = req.headers.authorization;
    if (header === undefined) return false;
    const m = /^Bearer\s+(\S+)$/i.exec(header);
    seen.push(m ? m[1]! : header);
    if (!m) return false;
    const token = m[1]!;
    if (opts.staticToken !== undefined && token === opts.staticToken) return true;
    const cur = current();
    return token === cur.accessToken && cur.expiresAt > Date.now();
  }

  /** The low-level `Server` (not `McpServer`): test tools declare JSON Schemas, not zod shapes. */
  function newMcpServer(): Server {
    const server = new Server({ name: "tendon-test-mcp", version: "0.1.0" }, { capabilities: { tools: {} } });
    server.setRequestHandler(ListToolsRequestSchema, async () => ({
      tools: tools.map((t) => ({
        name: t.name,
        description: t.description,
        inputSchema: t.inputSchema as { type: "object" },
      })),
    }));
    server.setRequestHandler(CallToolRequestSchema, async (req): Promise<CallToolResult> => {
      const tool = tools.find((t) => t.name === req.params.name);
      if (!tool) throw new McpError(ErrorCode.InvalidParams, `Unknown tool: ${req.params.name}`);
      const input = (req.params.arguments ?? {}) as Record<string, unknown>;
      toolCalls.push({ name: tool.name, input });
      try {
        const out = await tool.run(input);
        if (typeof out === "string") return { content: [{ type: "text", text: out }] };
        return { content: out.content, isError: out.isError ?? false };
      } catch (err) {
        return {
          content: [{ type: "text", text: err instanceof Error ? err.message : String(err) }],
          isError: true,
        };
      }
    });
    return server;
  }

  async function handleMcp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!authorized(req)) {
      sendJson(
        res,
        401,
        { error: "invalid_token" },
        {
          "www-authenticate":
            'Bearer error="invalid_token", error_description="missing, invalid or expired token"',
        },
      );
      return;
    }
    const sessionId = req.headers["mcp-session-id"];
    if (typeof sessionId === "string") {
      const session = sessions.get(sessionId);
      if (!session) {
        sendJson(res, 404, {
          jsonrpc: "2.0",
          error: { code: -32001, message: "Session not found" },
          id: null,
        });
        return;
      }
      const body = req.method === "POST" ? parseJson(await readBody(req)) : undefined;
      if (body === INVALID) return sendParseError(res);
      await session.transport.handleRequest(req, res, body);
      return;
    }
    if (req.method !== "POST") {
      sendJson(res, 400, {
        jsonrpc: "2.0",
        error: { code: -32000, message: "Missing session id" },
        id: null,
      });
      return;
    }
    const body = parseJson(await readBody(req));
    if (body === INVALID) return sendParseError(res);
    const isInit = Array.isArray(body) ? body.some(isInitializeRequest) : isInitializeRequest(body);
    if (!isInit) {
      sendJson(res, 400, {
        jsonrpc: "2.0",
        error: { code: -32000, message: "Missing session id" },
        id: null,
      });
      return;
    }
    const server = newMcpServer();
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => {
        sessions.set(id, { transport, server });
      },
      onsessionclosed: (id) => {
        sessions.delete(id);
      },
    });
    transport.onclose = () => {
      if (transport.sessionId !== undefined) sessions.delete(transport.sessionId);
    };
    await server.connect(transport);
    await transport.handleRequest(req, res, body);
  }

  async function handleToken(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const form = new URLSearchParams(await readBody(req));
    const header = req.headers.authorization;
    let authMethod: TokenRequest["authMethod"] = "none";
    let clientId = form.get("client_id") ?? undefined;
    let secret: string | undefined;
    let malformed = false;
    if (header !== undefined && /^Basic\s+/i.test(header)) {
      authMethod = "client_secret_basic";
      const decoded = Buffer.from(header.replace(/^Basic\s+/i, ""), "base64").toString("utf8");
      const colon = decoded.indexOf(":");
      if (colon < 0) malformed = true;
      else {
        const basicId = formDecode(decoded.slice(0, colon));
        if (clientId !== undefined && clientId !== basicId) malformed = true;
        clientId = basicId;
        secret = formDecode(decoded.slice(colon + 1));
      }
      if (form.has("client_secret")) malformed = true; // two authentication methods at once
    } else if (form.has("client_secret")) {
      authMethod = "client_secret_post";
      secret = form.get("client_secret") ?? undefined;
    }
    const record: TokenRequest = {
      authMethod,
      clientId,
      grantType: form.get("grant_type") ?? undefined,
      scope: form.get("scope") ?? undefined,
      resource: form.get("resource") ?? undefined,
      error: undefined,
    };
    tokenRequests.push(record);
    const fail = (status: number, error: string, description: string): void => {
      record.error = error;
      const headers: Record<string, string> =
        status === 401 && authMethod === "client_secret_basic"
          ? { "www-authenticate": 'Basic realm="token"' }
          : {};
      sendJson(res, status, { error, error_description: description }, headers);
    };

    if (malformed) return fail(400, "invalid_request", "malformed or duplicated client authentication");
    const clientOk =
      clientId === oauth.clientId &&
      (oauth.clientSecret === undefined
        ? authMethod === "none"
        : authMethod !== "none" && secret === oauth.clientSecret);
    if (!clientOk) return fail(401, "invalid_client", "client authentication failed");
    if (record.grantType !== "refresh_token") {
      return fail(400, "unsupported_grant_type", "only refresh_token is supported");
    }
    if (form.get("refresh_token") !== current().refreshToken) {
      return fail(400, "invalid_grant", "refresh token is invalid, expired or already used");
    }
    const next: IssuedToken = {
      accessToken: newToken("at"),
      refreshToken: newToken("rt"),
      expiresAt: Date.now() + oauth.accessTtlMs,
    };
    issued.push(next);
    const body: Record<string, unknown> = {
      access_token: next.accessToken,
      token_type: "Bearer",
      expires_in: Math.floor(oauth.accessTtlMs / 1000),
      refresh_token: next.refreshToken,
    };
    if (record.scope !== undefined) body.scope = record.scope;
    sendJson(res, 200, body);
  }

  const http = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://localhost").pathname;
    let handled: Promise<void>;
    if (path === "/mcp") handled = handleMcp(req, res);
    else if (path === "/oauth/token" && req.method === "POST") handled = handleToken(req, res);
    else {
      sendJson(res, 404, { error: "not_found" });
      return;
    }
    handled.catch(() => {
      if (!res.headersSent) sendJson(res, 500, { error: "server_error" });
      else res.destroy();
    });
  });

  await new Promise<void>((resolve, reject) => {
    http.once("error", reject);
    http.listen(0, "127.0.0.1", () => {
      http.off("error", reject);
      resolve();
    });
  });
  const { port } = http.address() as AddressInfo;
  const base = `http://127.0.0.1:${port}`;

  return {
    url: `${base}/mcp`,
    tokenEndpoint: `${base}/oauth/token`,
    seenTokens: () => [...seen],
    issued: () => issued.map((t) => ({ ...t })),
    tokenRequests: () => tokenRequests.map((r) => ({ ...r })),
    toolCalls: () => toolCalls.map((c) => ({ ...c })),
    expireAccessToken: () => {
      current().expiresAt = 0;
    },
    stop: async () => {
      const open = [...sessions.values()];
      sessions.clear();
      await Promise.allSettled(open.map((s) => s.server.close()));
      const closed = new Promise<void>((resolve) => http.close(() => resolve()));
      http.closeAllConnections();
      await closed;
    },
  };
}

const INVALID = Symbol("invalid JSON");

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return INVALID;
  }
}

function sendParseError(res: ServerResponse): void {
  sendJson(res, 400, { jsonrpc: "2.0", error: { code: -32700, message: "Parse error" }, id: null });
}
