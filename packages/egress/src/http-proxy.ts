/**
 * Forwarding one HTTP request: an absolute-form request on the proxy connection (`GET
 * http://host/path`), or an origin-form request inside a tunnel whose TLS the proxy terminated.
 *
 * Steps: network policy → where the host is → substitution plan for exactly that host:port →
 * headers (hop-by-hop dropped, Host set to the target, placeholders substituted, inject headers
 * set) → body (buffered and substituted only when a credential may go in the body and the body is
 * at most `maxBodyBytes`; otherwise streamed untouched) → upstream (plain or verified TLS) →
 * response streamed back → one record.
 *
 * Invariants:
 * - The Host header always names the target the bytes go to: a proxy replaces it for
 *   absolute-form requests (RFC 9112 §3.2.2), and inside a terminated tunnel a request whose Host
 *   names another host is refused with 421, so a secret meant for one host cannot be routed to
 *   another behind the same front (domain fronting).
 * - Refusals are short plain-text bodies; nothing about the request is echoed back or logged.
 * - Errors are logged by code only; upstream error messages never reach the sandbox.
 */
import {
  type ClientRequest,
  request as httpRequest,
  type IncomingMessage,
  type ServerResponse,
} from "node:http";
import { request as httpsRequest } from "node:https";
import { isIP, type Socket } from "node:net";
import { checkServerIdentity } from "node:tls";
import {
  authority,
  checkNetwork,
  type ProxyContext,
  policyOrRefuse,
  type Target,
  TargetRefused,
} from "./context.js";
import { canonicalHost, splitHostPort } from "./hosts.js";
import type { EgressIdentity } from "./identity.js";
import { RecordBuilder } from "./records.js";
import { bodyEncoder, planFor, replaceInBuffer, stripHopByHop, substituteHeaders } from "./substitute.js";

interface Forward {
  id: EgressIdentity;
  scheme: "http" | "https";
  host: string;
  port: number;
  path: string;
}

/** Answers with a short plain-text body and records the outcome. */
export function refuse(
  res: ServerResponse,
  rec: RecordBuilder,
  status: number,
  reason: string,
  blocked: boolean,
): void {
  const body = `${reason}\n`;
  if (!res.headersSent) {
    res.writeHead(status, {
      "content-type": "text/plain; charset=utf-8",
      "content-length": Buffer.byteLength(body),
    });
    res.end(body);
  } else {
    res.destroy();
  }
  rec.finish({ status, blocked, reason });
}

function plainRefusal(res: ServerResponse, status: number, reason: string): void {
  const body = `${reason}\n`;
  res.writeHead(status, {
    "content-type": "text/plain; charset=utf-8",
    "content-length": Buffer.byteLength(body),
  });
  res.end(body);
}

/** An absolute-form request on the proxy connection itself. */
export function handleProxyRequest(ctx: ProxyContext, req: IncomingMessage, res: ServerResponse): void {
  const id = ctx.identities.get(req.socket);
  if (!id) return void res.destroy();
  let url: URL;
  try {
    url = new URL(req.url ?? "");
  } catch {
    plainRefusal(res, 400, "absolute-form request target required (this is a forward proxy)");
    return;
  }
  const scheme = url.protocol === "http:" ? "http" : url.protocol === "https:" ? "https" : null;
  const host = canonicalHost(url.hostname);
  if (!scheme || !host) {
    plainRefusal(res, 400, "unsupported request target");
    return;
  }
  const port = url.port ? Number(url.port) : scheme === "https" ? 443 : 80;
  guarded(ctx, res, forward(ctx, req, res, { id, scheme, host, port, path: `${url.pathname}${url.search}` }));
}

/** An origin-form request inside a terminated tunnel to `target`. */
export function handleTunnelRequest(ctx: ProxyContext, req: IncomingMessage, res: ServerResponse): void {
  const id = ctx.identities.get(req.socket);
  const target = ctx.tunnelTargets.get(req.socket);
  if (!id || !target) return void res.destroy();
  target.requests++;
  let path = req.url ?? "/";
  let named: string | null = null;
  if (!path.startsWith("/")) {
    try {
      const u = new URL(path);
      named = canonicalHost(u.hostname);
      path = `${u.pathname}${u.search}`;
    } catch {
      plainRefusal(res, 400, "bad request target");
      return;
    }
  } else if (req.headers.host !== undefined) {
    const hp = splitHostPort(req.headers.host);
    named = hp ? canonicalHost(hp.host) : null;
  }
  if ((req.headers.host !== undefined || named !== null) && named !== target.host) {
    const rec = new RecordBuilder(
      ctx.sink,
      ctx.log,
      id,
      req.method ?? "GET",
      "https",
      target.host,
      target.port,
    );
    refuse(res, rec, 421, "Host does not match the tunnel's host", true);
    return;
  }
  guarded(
    ctx,
    res,
    forward(ctx, req, res, { id, scheme: "https", host: target.host, port: target.port, path }),
  );
}

/** A bug in forwarding must cost one connection, never the process (no unhandled rejection). */
function guarded(ctx: ProxyContext, res: ServerResponse, p: Promise<void>): void {
  p.catch((err: unknown) => {
    ctx.log("error", "egress forwarding failed", { error: err instanceof Error ? err.name : typeof err });
    res.destroy();
  });
}

async function forward(
  ctx: ProxyContext,
  req: IncomingMessage,
  res: ServerResponse,
  f: Forward,
): Promise<void> {
  const rec = new RecordBuilder(ctx.sink, ctx.log, f.id, req.method ?? "GET", f.scheme, f.host, f.port);
  let target: Target;
  let policy: Awaited<ReturnType<typeof policyOrRefuse>>;
  try {
    policy = await policyOrRefuse(ctx, f.id);
    checkNetwork(policy, f.host, f.port);
    target = await ctx.locate(f.host, f.port);
  } catch (err) {
    if (err instanceof TargetRefused) return refuse(res, rec, err.status, err.reason, err.blocked);
    return refuse(res, rec, 502, "egress error", false);
  }
  if (res.destroyed) return rec.finish({ reason: "client went away" });
  const plan = planFor(policy, f.host, f.port, f.path);
  let headers = stripHopByHop(req.rawHeaders, ["host", "expect"]);
  headers = substituteHeaders(headers, plan, rec.credentialIds);
  headers.unshift("Host", authority(f.host, f.port, f.scheme));

  const chunked = /\bchunked\b/i.test(req.headers["transfer-encoding"] ?? "");
  const declared = req.headers["content-length"] === undefined ? null : Number(req.headers["content-length"]);
  const hasBody = chunked || (declared !== null && declared > 0);

  let body: Buffer | null = null;
  let prefix: Buffer[] = [];
  if (hasBody && plan.body.length > 0) {
    if (declared !== null && !chunked && declared > ctx.maxBodyBytes) {
      rec.reasons.push("request body over maxBodyBytes: streamed without substitution");
    } else {
      const got = await readUpTo(req, ctx.maxBodyBytes);
      rec.bytesOut += got.bytes;
      if (got.complete) {
        body = replaceInBuffer(
          got.chunks.length === 1 ? got.chunks[0]! : Buffer.concat(got.chunks),
          plan.body,
          rec.credentialIds,
          bodyEncoder(req.headers["content-type"]),
        );
        headers = setHeader(
          stripNamed(headers, ["transfer-encoding"]),
          "Content-Length",
          String(body.length),
        );
      } else {
        prefix = got.chunks;
        rec.reasons.push("request body over maxBodyBytes: streamed without substitution");
      }
    }
  }
  if (res.destroyed) return rec.finish({ reason: "client went away" });

  let up: ClientRequest;
  try {
    up = upstreamRequest(ctx, req, f, target, headers);
  } catch (err) {
    // Node refuses, synchronously, a path or header value it cannot send (a secret with a
    // newline, say). Only the error code is logged: the message can name a header.
    ctx.log("warn", "egress request not forwardable", {
      host: f.host,
      code: (err as NodeJS.ErrnoException).code,
    });
    return refuse(res, rec, 502, "request could not be forwarded", false);
  }
  armConnectTimeout(up, ctx.connectTimeoutMs);

  up.on("response", (upRes) => {
    rec.status = upRes.statusCode ?? null;
    const resHeaders = stripHopByHop(upRes.rawHeaders, ["transfer-encoding"]);
    try {
      res.writeHead(upRes.statusCode ?? 502, upRes.statusMessage, resHeaders);
    } catch {
      upRes.destroy();
      return refuse(res, rec, 502, "bad upstream response", false);
    }
    upRes.on("data", (c: Buffer) => {
      rec.bytesIn += c.length;
    });
    upRes.on("error", () => res.destroy());
    upRes.pipe(res);
  });
  up.on("error", (err: NodeJS.ErrnoException) => {
    ctx.log("debug", "egress upstream error", { host: f.host, port: f.port, code: err.code ?? err.name });
    if (!res.headersSent) refuse(res, rec, 502, "upstream unreachable", false);
    else {
      res.destroy();
      rec.finish({ reason: "upstream connection failed mid-response" });
    }
  });
  res.on("finish", () => rec.finish());
  res.on("close", () => {
    if (!res.writableFinished) {
      up.destroy();
      rec.finish({ reason: "connection closed before the response completed" });
    }
  });

  if (body !== null) {
    up.end(body);
  } else if (hasBody) {
    for (const c of prefix) up.write(c);
    req.on("data", (c: Buffer) => {
      rec.bytesOut += c.length;
    });
    req.pipe(up);
  } else {
    up.end();
  }
}

function upstreamRequest(
  ctx: ProxyContext,
  req: IncomingMessage,
  f: Forward,
  target: Target,
  headers: string[],
): ClientRequest {
  return (f.scheme === "https" ? httpsRequest : httpRequest)({
    host: target.host,
    port: target.port,
    method: req.method,
    path: f.path,
    headers,
    setHost: false,
    ...(f.scheme === "https"
      ? {
          agent: ctx.httpsAgent,
          ...(isIP(f.host) === 0 ? { servername: f.host } : {}),
          rejectUnauthorized: true,
          checkServerIdentity: (_: string, cert: Parameters<typeof checkServerIdentity>[1]) =>
            checkServerIdentity(f.host, cert),
        }
      : { agent: ctx.httpAgent }),
  });
}

/** Reads a body until its end or until more than `max` bytes have arrived (then pauses it). */
function readUpTo(
  req: IncomingMessage,
  max: number,
): Promise<{ chunks: Buffer[]; bytes: number; complete: boolean }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    const done = (complete: boolean) => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onEnd);
      resolve({ chunks, bytes, complete });
    };
    const onData = (c: Buffer) => {
      chunks.push(c);
      bytes += c.length;
      if (bytes > max) {
        req.pause();
        done(false);
      }
    };
    const onEnd = () => done(true);
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onEnd);
  });
}

function stripNamed(raw: readonly string[], names: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if (!names.includes((raw[i] ?? "").toLowerCase())) out.push(raw[i] ?? "", raw[i + 1] ?? "");
  }
  return out;
}

function setHeader(raw: readonly string[], name: string, value: string): string[] {
  return [...stripNamed(raw, [name.toLowerCase()]), name, value];
}

/** Fails the request if its connection is not up within `ms` (a reused socket is already up). */
function armConnectTimeout(up: ClientRequest, ms: number): void {
  up.on("socket", (s: Socket) => {
    if (!s.connecting) return;
    const timer = setTimeout(
      () => up.destroy(Object.assign(new Error("connect timeout"), { code: "ETIMEDOUT" })),
      ms,
    );
    timer.unref();
    s.once("connect", () => clearTimeout(timer));
    s.once("close", () => clearTimeout(timer));
  });
}
