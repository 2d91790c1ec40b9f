/**
 * The admin API under `/_mock`, for scripting the mock from another process:
 *   PUT    /_mock/scripts/:model   body = Script → {ok:true} (400 on invalid input)
 *   DELETE /_mock/scripts/:model   → {ok:true}
 *   DELETE /_mock/scripts          → {ok:true} (every script)
 *   GET    /_mock/requests?model=  → RecordedRequest[] (newest last)
 *   DELETE /_mock/requests         → {ok:true}
 *   GET    /_mock/health           → {ok:true}
 *   GET    /_mock/stats            → {inflight, timers, scripts, requests}: model calls being
 *                                    handled, pending latency timers, scripts, recorded requests
 *
 * Invariants: no API key is required here; errors use the API's error envelope.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { BodyTooLargeError, describeZodError, parseJson, readBody, sendError, sendJson } from "./http.js";
import type { RequestLog } from "./requests.js";
import { Script, type ScriptStore } from "./script.js";

export interface AdminContext {
  scripts: ScriptStore;
  log: RequestLog;
  maxBodyBytes: number;
  stats(): { inflight: number; timers: number };
}

const OK = { ok: true } as const;

async function putScript(req: IncomingMessage, res: ServerResponse, ctx: AdminContext, model: string) {
  let text: string;
  try {
    text = await readBody(req, ctx.maxBodyBytes);
  } catch (err) {
    if (err instanceof BodyTooLargeError) sendError(res, 413, err.message);
    return;
  }
  const json = parseJson(text);
  if (!json.ok) {
    sendError(res, 400, "the request body is not valid JSON");
    return;
  }
  const parsed = Script.safeParse(json.value);
  if (!parsed.success) {
    sendError(res, 400, `invalid script: ${describeZodError(parsed.error)}`);
    return;
  }
  ctx.scripts.set(model, parsed.data);
  sendJson(res, 200, OK);
}

export async function handleAdmin(req: IncomingMessage, res: ServerResponse, ctx: AdminContext, url: URL) {
  const path = url.pathname;
  const method = req.method ?? "GET";
  if (path.startsWith("/_mock/scripts/") && path.length > "/_mock/scripts/".length) {
    let model: string;
    try {
      model = decodeURIComponent(path.slice("/_mock/scripts/".length));
    } catch {
      sendError(res, 400, "the model in the path is not valid percent-encoding");
      return;
    }
    if (method === "PUT") return putScript(req, res, ctx, model);
    if (method === "DELETE") {
      ctx.scripts.delete(model);
      return sendJson(res, 200, OK);
    }
  } else if (path === "/_mock/scripts" && method === "DELETE") {
    ctx.scripts.clear();
    return sendJson(res, 200, OK);
  } else if (path === "/_mock/requests") {
    if (method === "GET") return sendJson(res, 200, ctx.log.list(url.searchParams.get("model") ?? undefined));
    if (method === "DELETE") {
      ctx.log.clear(url.searchParams.get("model") ?? undefined);
      return sendJson(res, 200, OK);
    }
  } else if (path === "/_mock/health" && method === "GET") {
    return sendJson(res, 200, OK);
  } else if (path === "/_mock/stats" && method === "GET") {
    return sendJson(res, 200, { ...ctx.stats(), scripts: ctx.scripts.size, requests: ctx.log.size });
  }
  req.resume();
  sendError(res, 404, `no route for ${method} ${path}`);
}
