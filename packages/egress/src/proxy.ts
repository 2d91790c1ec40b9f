/**
 * The egress proxy: accepts connections (its own listener, or sockets handed to `handle`), checks
 * each one's identity preamble, then serves it as an HTTP/1.1 forward proxy — absolute-form
 * requests (http-proxy.ts) and CONNECT (connect.ts) — with keep-alive and several requests per
 * connection.
 *
 * Invariants:
 * - Nothing but the preamble is read from a connection before its identity is verified; a
 *   missing, malformed, forged or expired preamble (or none within `preambleTimeoutMs`) closes
 *   the connection without a reply. Only an expired one is recorded (as blocked): it is the only
 *   case where the identity is known to be genuine.
 * - Parsing is Node's (llhttp); the proxy's HTTP servers never listen themselves, they are fed
 *   connections, and their request/CONNECT handlers find the identity by socket.
 * - `close()` stops listening and destroys every connection still open.
 */
import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import {
  type AddressInfo,
  createServer as createNetServer,
  type Server as NetServer,
  type Socket,
} from "node:net";
import type { Duplex } from "node:stream";
import { type CertificateAuthority, LeafIssuer } from "./ca.js";
import { handleConnect } from "./connect.js";
import {
  type EgressPolicy,
  makeLocator,
  newAgents,
  type ProxyContext,
  type Target,
  upstreamTrust,
} from "./context.js";
import { handleProxyRequest, handleTunnelRequest } from "./http-proxy.js";
import { type EgressIdentity, EgressIdentityError, MAX_PREAMBLE_BYTES, verifyIdentity } from "./identity.js";
import { type EgressRecord, type LogFn, RecordBuilder } from "./records.js";

export interface EgressProxyOptions {
  ca: CertificateAuthority;
  identitySecret: Buffer;
  /** Called for every request and every CONNECT; cache in the caller if it is expensive. */
  policyFor(id: EgressIdentity): Promise<EgressPolicy>;
  onRecord(r: EgressRecord): void;
  /** Where to really connect for a host (tests map "api.test" → 127.0.0.1:port); default: DNS. */
  resolve?(host: string, port: number): Promise<Target>;
  /** Extra CAs to trust for upstream TLS; Node's roots and the system bundle are always trusted. */
  upstreamCa?: string[];
  /** Largest request body buffered for substitution (default 1 MiB); larger ones stream untouched. */
  maxBodyBytes?: number;
  /**
   * With the default resolver, let names resolve to loopback/link-local/reserved addresses
   * (default false: the proxy host's own services and cloud metadata stay out of reach).
   */
  allowInternalAddresses?: boolean;
  /** How long a connection may take to send its preamble (default 10 s). */
  preambleTimeoutMs?: number;
  /** Upstream TCP/TLS connect timeout (default 30 s). */
  connectTimeoutMs?: number;
  log?: LogFn;
}

export interface EgressProxy {
  /** Listens on TCP or a unix socket; resolves to `host:port` or the path. */
  listen(opts: { host: string; port: number } | { path: string }): Promise<string>;
  /** Serves one already-accepted connection (the preamble comes first). */
  handle(socket: Socket): void;
  close(): Promise<void>;
}

const noLog: LogFn = () => {};

export function createEgressProxy(opts: EgressProxyOptions): EgressProxy {
  const log = opts.log ?? noLog;
  const upstreamTls = upstreamTrust(opts.upstreamCa ?? []);
  const ctx: ProxyContext = {
    policyFor: (id) => opts.policyFor(id),
    sink: (r) => opts.onRecord(r),
    log,
    maxBodyBytes: opts.maxBodyBytes ?? 1024 * 1024,
    connectTimeoutMs: opts.connectTimeoutMs ?? 30_000,
    issuer: new LeafIssuer(opts.ca),
    ...newAgents(upstreamTls),
    upstreamTls,
    locate: makeLocator(opts.resolve, opts.allowInternalAddresses ?? false),
    identities: new WeakMap(),
    tunnelTargets: new WeakMap(),
  };

  const inner: HttpServer = createHttpServer({ keepAliveTimeout: 30_000 });
  inner.on("request", (req, res) => handleTunnelRequest(ctx, req, res));
  inner.on("clientError", (_err, socket: Duplex) => socket.destroy());

  const outer: HttpServer = createHttpServer({ keepAliveTimeout: 30_000 });
  outer.on("request", (req, res) => handleProxyRequest(ctx, req, res));
  outer.on("connect", (req, socket: Duplex, head: Buffer) => {
    handleConnect(ctx, inner, req, socket, head).catch((err: unknown) => {
      log("error", "egress CONNECT failed", { error: err instanceof Error ? err.name : typeof err });
      socket.destroy();
    });
  });
  outer.on("clientError", (_err, socket: Duplex) => {
    if (socket.writable)
      socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
    else socket.destroy();
  });

  const open = new Set<Socket>();
  const listeners: NetServer[] = [];
  const preambleTimeoutMs = opts.preambleTimeoutMs ?? 10_000;

  const handle = (socket: Socket): void => {
    open.add(socket);
    socket.once("close", () => open.delete(socket));
    socket.on("error", () => socket.destroy());
    readPreamble(socket, preambleTimeoutMs).then(
      (line) => {
        let id: EgressIdentity;
        try {
          id = verifyIdentity(opts.identitySecret, line);
        } catch (err) {
          refuseConnection(err);
          return;
        }
        ctx.identities.set(socket, id);
        outer.emit("connection", socket);
      },
      () => {
        log("warn", "egress connection without a preamble");
        socket.destroy();
      },
    );

    function refuseConnection(err: unknown): void {
      const code = err instanceof EgressIdentityError ? err.code : "malformed";
      log("warn", "egress connection refused", { reason: `identity ${code}` });
      if (err instanceof EgressIdentityError && err.identity) {
        new RecordBuilder(ctx.sink, log, err.identity, "", "http", "", 0).finish({
          blocked: true,
          reason: `identity preamble ${code}`,
        });
      }
      socket.destroy();
    }
  };

  return {
    handle,
    async listen(where) {
      const server = createNetServer({ noDelay: true }, handle);
      listeners.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        if ("path" in where) server.listen(where.path, () => resolve());
        else server.listen(where.port, where.host, () => resolve());
      });
      const addr = server.address();
      if (addr === null || typeof addr === "string") return addr ?? ("path" in where ? where.path : "");
      const a = addr as AddressInfo;
      return a.family === "IPv6" ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
    },
    async close() {
      const closing = listeners
        .splice(0)
        .map((s) => new Promise<void>((resolve) => s.close(() => resolve())));
      for (const s of open) s.destroy();
      open.clear();
      ctx.httpAgent.destroy();
      ctx.httpsAgent.destroy();
      await Promise.all(closing);
    },
  };
}

/**
 * Reads up to and including the first CRLF (at most MAX_PREAMBLE_BYTES) and puts any bytes after
 * it back on the socket for the HTTP parser. Rejects on EOF, overflow or timeout.
 */
function readPreamble(socket: Socket, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf: Buffer = Buffer.alloc(0);
    const timer = setTimeout(() => finish(new Error("preamble timeout")), timeoutMs);
    timer.unref();
    const finish = (err: Error | null, line?: string, rest?: Buffer) => {
      clearTimeout(timer);
      socket.off("readable", onReadable);
      socket.off("end", onEnd);
      socket.off("close", onEnd);
      if (err) return reject(err);
      if (rest && rest.length > 0) socket.unshift(rest);
      resolve(line ?? "");
    };
    const onEnd = () => finish(new Error("closed before the preamble"));
    const onReadable = () => {
      for (let c = socket.read() as Buffer | null; c !== null; c = socket.read() as Buffer | null) {
        buf = buf.length === 0 ? c : Buffer.concat([buf, c]);
        const nl = buf.indexOf("\r\n");
        if (nl !== -1 && nl + 2 <= MAX_PREAMBLE_BYTES) {
          return finish(null, buf.subarray(0, nl + 2).toString("latin1"), buf.subarray(nl + 2));
        }
        if (buf.length >= MAX_PREAMBLE_BYTES) return finish(new Error("preamble too long"));
      }
    };
    socket.on("readable", onReadable);
    socket.on("end", onEnd);
    socket.on("close", onEnd);
  });
}
