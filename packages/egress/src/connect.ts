/**
 * CONNECT host:port — HTTPS (or any TLS) out of a sandbox, decided per host.
 *
 * Trade-off (why the proxy reads some HTTPS and not the rest):
 * - A secret can only be written into a request the proxy can read. So when a credential or an
 *   inject rule applies to the CONNECT's host:port, the proxy terminates TLS itself: it presents
 *   a leaf certificate for that host signed by the egress CA, reads the HTTP/1.1 requests inside,
 *   substitutes or injects exactly as for plain HTTP, and sends each one on over a new, verified
 *   TLS connection to the real host (system roots + `upstreamCa`, `rejectUnauthorized` always on,
 *   SNI and identity check for the host the sandbox named). Only `http/1.1` is offered by ALPN.
 * - Every other host is tunnelled untouched: the proxy sees host, port and byte counts, never the
 *   plaintext, and the sandbox sees the real server's certificate. No inspection where none is
 *   needed: less to trust, less to break (pinning clients, HTTP/2, non-HTTP protocols keep
 *   working), and nothing of those sessions is ever decrypted.
 * - For termination to work the sandbox must trust the egress CA: the sandbox-side bridge writes
 *   its certificate (alone and appended to the system bundle) and points SSL_CERT_FILE,
 *   NODE_EXTRA_CA_CERTS, CURL_CA_BUNDLE, REQUESTS_CA_BUNDLE and GIT_SSL_CAINFO at it. Clients that
 *   pin certificates or ship their own trust store will refuse the terminated hosts (they still
 *   work for tunnelled hosts).
 * - The CA key never leaves the credential-proxy: it is stored sealed, held in memory only as a
 *   non-extractable signing key, and neither the sandbox, the bridge nor sandbox-manager gets it.
 *   Leaves share one per-process key and live 7 days.
 * - If the CA key were compromised, whoever holds it could impersonate any HTTPS host to every
 *   sandbox that trusts the CA (read and alter their traffic, including secrets being sent),
 *   but only from a position on the sandbox's network path, which for a sandbox is the egress
 *   proxy itself; hosts outside sandboxes never trust this CA. Recovery is rotating the CA
 *   (new sandboxes get the new certificate) and rotating the credentials that were in use.
 *
 * Invariants:
 * - Network policy is checked before any byte goes to the host; a refused CONNECT gets a 403
 *   with a short reason and the connection is closed.
 * - A terminated tunnel only ever forwards to the host:port named by the CONNECT (requests whose
 *   Host names another host get 421: see http-proxy.ts).
 * - Bytes already read from the client past the CONNECT head are replayed, never dropped.
 */
import type { IncomingMessage, Server } from "node:http";
import { connect as netConnect } from "node:net";
import { Duplex } from "node:stream";
import { TLSSocket } from "node:tls";
import { checkNetwork, type ProxyContext, policyOrRefuse, type Target, TargetRefused } from "./context.js";
import { canonicalHost, splitHostPort } from "./hosts.js";
import type { EgressIdentity } from "./identity.js";
import { RecordBuilder } from "./records.js";
import { planFor, planIsEmpty } from "./substitute.js";

const ESTABLISHED = "HTTP/1.1 200 Connection Established\r\n\r\n";

function writeRefusal(socket: Duplex, status: number, reason: string): void {
  const text =
    { 400: "Bad Request", 403: "Forbidden", 502: "Bad Gateway", 503: "Service Unavailable" }[status] ??
    "Error";
  const body = `${reason}\n`;
  socket.end(
    `HTTP/1.1 ${status} ${text}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/** Handles the `connect` event of the proxy's HTTP server. */
export async function handleConnect(
  ctx: ProxyContext,
  inner: Server,
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
): Promise<void> {
  socket.on("error", () => socket.destroy());
  const id = ctx.identities.get(socket) ?? ctx.identities.get(req.socket);
  if (!id) return void socket.destroy();
  const hp = splitHostPort(req.url ?? "");
  const host = hp ? canonicalHost(hp.host) : null;
  if (!hp || !host) return writeRefusal(socket, 400, "CONNECT needs host:port");
  const port = hp.port ?? 443;
  const rec = new RecordBuilder(ctx.sink, ctx.log, id, "CONNECT", "https", host, port);

  let target: Target;
  let terminate: boolean;
  try {
    const policy = await policyOrRefuse(ctx, id);
    checkNetwork(policy, host, port);
    target = await ctx.locate(host, port);
    terminate = !planIsEmpty(planFor(policy, host, port));
  } catch (err) {
    const r = err instanceof TargetRefused ? err : new TargetRefused(502, "egress error", false);
    writeRefusal(socket, r.status, r.reason);
    return rec.finish({ status: r.status, blocked: r.blocked, reason: r.reason });
  }
  if (socket.destroyed) return rec.finish({ reason: "client went away" });

  // Bytes the client sent after the CONNECT head, in the same packet or while we looked up policy.
  const early: Buffer[] = head.length > 0 ? [head] : [];
  for (let c = socket.read() as Buffer | null; c !== null; c = socket.read() as Buffer | null) early.push(c);

  if (terminate) return terminateTls(ctx, inner, socket, early, id, { host, port }, rec);
  return tunnel(ctx, socket, early, target, rec);
}

function tunnel(
  ctx: ProxyContext,
  client: Duplex,
  early: Buffer[],
  target: Target,
  rec: RecordBuilder,
): void {
  const up = netConnect({ host: target.host, port: target.port });
  const timer = setTimeout(
    () => up.destroy(Object.assign(new Error("connect timeout"), { code: "ETIMEDOUT" })),
    ctx.connectTimeoutMs,
  );
  timer.unref();
  let connected = false;
  up.once("connect", () => {
    clearTimeout(timer);
    connected = true;
    rec.status = 200;
    up.setNoDelay(true);
    client.write(ESTABLISHED);
    for (const c of early) {
      rec.bytesOut += c.length;
      up.write(c);
    }
    client.on("data", (c: Buffer) => {
      rec.bytesOut += c.length;
    });
    up.on("data", (c: Buffer) => {
      rec.bytesIn += c.length;
    });
    client.pipe(up);
    up.pipe(client);
  });
  up.on("error", (err: NodeJS.ErrnoException) => {
    clearTimeout(timer);
    ctx.log("debug", "egress tunnel upstream error", {
      host: rec.host,
      port: rec.port,
      code: err.code ?? err.name,
    });
    if (!connected) {
      writeRefusal(client, 502, "upstream unreachable");
      rec.finish({ status: 502, reason: "upstream unreachable" });
    } else {
      client.destroy();
    }
  });
  const closeBoth = () => {
    up.destroy();
    client.destroy();
    rec.finish(connected ? {} : { reason: "client went away" });
  };
  up.on("close", closeBoth);
  client.on("close", closeBoth);
}

async function terminateTls(
  ctx: ProxyContext,
  inner: Server,
  client: Duplex,
  early: Buffer[],
  id: EgressIdentity,
  target: Target,
  rec: RecordBuilder,
): Promise<void> {
  let secureContext: Awaited<ReturnType<ProxyContext["issuer"]["contextFor"]>>;
  try {
    secureContext = await ctx.issuer.contextFor(target.host);
  } catch (err) {
    ctx.log("error", "egress leaf certificate failed", {
      host: target.host,
      error: err instanceof Error ? err.name : typeof err,
    });
    writeRefusal(client, 502, "egress error");
    return rec.finish({ status: 502, reason: "leaf certificate failed" });
  }
  if (client.destroyed) return rec.finish({ reason: "client went away" });
  client.write(ESTABLISHED);
  // A net.Socket with bytes already read into JS cannot be handed to TLS directly (TLS reads the
  // handle, not the stream buffer): replay them through a wrapper.
  const stream = early.length > 0 ? prepend(client, Buffer.concat(early)) : client;
  const tls = new TLSSocket(stream, { isServer: true, secureContext, ALPNProtocols: ["http/1.1"] });
  ctx.identities.set(tls, id);
  const info = { ...target, requests: 0 };
  ctx.tunnelTargets.set(tls, info);
  let secured = false;
  tls.once("secure", () => {
    secured = true;
  });
  tls.on("error", (err: NodeJS.ErrnoException) => {
    if (!secured) {
      ctx.log("debug", "egress client TLS handshake failed", {
        host: target.host,
        code: err.code ?? err.name,
      });
      rec.finish({ reason: "client TLS handshake failed (does the sandbox trust the egress CA?)" });
    }
    tls.destroy();
    client.destroy();
  });
  tls.on("close", () => {
    client.destroy();
    // Clients that verify after the handshake (Node) just hang up when they distrust the leaf.
    if (info.requests === 0) {
      rec.finish({ reason: "TLS session closed before any request (does the sandbox trust the egress CA?)" });
    }
  });
  inner.emit("connection", tls);
}

/** A duplex that yields `head` first, then everything `socket` yields; writes go to `socket`. */
export function prepend(socket: Duplex, head: Buffer): Duplex {
  const d = new Duplex({
    read() {
      socket.resume();
    },
    write(chunk: Buffer, _enc, cb) {
      socket.write(chunk, cb);
    },
    final(cb) {
      socket.end(cb);
    },
    destroy(err, cb) {
      socket.destroy(err ?? undefined);
      cb(err);
    },
  });
  d.push(head);
  socket.on("data", (c: Buffer) => {
    if (!d.push(c)) socket.pause();
  });
  socket.on("end", () => d.push(null));
  socket.on("error", (e) => d.destroy(e));
  socket.on("close", () => d.destroy());
  return d;
}
