/**
 * Test fixtures for the egress proxy, all on real loopback sockets: upstream HTTP and HTTPS
 * servers that record what reaches them, a proxy with fake host names mapped to them, and
 * clients that speak to the proxy the way the sandbox bridge and real tools do.
 *
 * Not exported from the package; used by the colocated tests only.
 */
import { EventEmitter, once } from "node:events";
import {
  createServer as createHttpServer,
  Agent as HttpAgent,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
} from "node:http";
import { createServer as createHttpsServer } from "node:https";
import {
  type AddressInfo,
  createServer as createNetServer,
  connect as netConnect,
  type Socket,
} from "node:net";
import { Duplex } from "node:stream";
import { type PeerCertificate, type TLSSocket, connect as tlsConnect } from "node:tls";
import { type CertificateAuthority, createCertificateAuthority, LeafIssuer } from "../ca.js";
import type { EgressPolicy } from "../context.js";
import { type EgressIdentity, signIdentity } from "../identity.js";
import { createEgressProxy, type EgressProxy, type EgressProxyOptions } from "../proxy.js";
import type { EgressRecord } from "../records.js";

export interface Received {
  upstream: string;
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface Upstream {
  name: string;
  port: number;
  received: Received[];
  close(): Promise<void>;
}

function recordingHandler(name: string, received: Received[]) {
  return (req: IncomingMessage, res: import("node:http").ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      received.push({
        upstream: name,
        method: req.method ?? "",
        url: req.url ?? "",
        headers: req.headers,
        body: Buffer.concat(chunks).toString("utf8"),
      });
      const body = `${name} ${req.method} ${req.url}`;
      res.writeHead(200, { "content-type": "text/plain", "content-length": Buffer.byteLength(body) });
      res.end(body);
    });
  };
}

async function listening(server: Server | import("node:net").Server): Promise<number> {
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return (server.address() as AddressInfo).port;
}

function closer(server: Server): () => Promise<void> {
  return () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
}

export async function startHttpUpstream(name: string): Promise<Upstream> {
  const received: Received[] = [];
  const server = createHttpServer(recordingHandler(name, received));
  return { name, port: await listening(server), received, close: closer(server) };
}

/** An HTTPS upstream presenting, per SNI name, a leaf signed by `ca` (a CA the proxy is told to trust). */
export async function startHttpsUpstream(name: string, ca: CertificateAuthority): Promise<Upstream> {
  const received: Received[] = [];
  const issuer = new LeafIssuer(ca);
  const fallback = await issuer.contextFor("localhost");
  const server = createHttpsServer(
    {
      SNICallback: (servername, cb) => {
        issuer.contextFor(servername).then(
          (c) => cb(null, c),
          (e: Error) => cb(e),
        );
      },
      secureContext: fallback,
    },
    recordingHandler(name, received),
  );
  return { name, port: await listening(server), received, close: closer(server) };
}

export interface ProxyFixture {
  proxy: EgressProxy;
  port: number;
  ca: CertificateAuthority;
  secret: Buffer;
  id: EgressIdentity;
  records: EgressRecord[];
  /**
   * Resolves with the records from index `from` on that satisfy `where`, once there are `n`.
   * (Tunnel records arrive when a tunnel closes, possibly during a later test: always filter.)
   */
  waitRecords(n: number, from?: number, where?: (r: EgressRecord) => boolean): Promise<EgressRecord[]>;
  preamble(opts?: { ttlMs?: number; secret?: Buffer }): string;
  policy: { current: EgressPolicy };
  close(): Promise<void>;
}

let sharedCa: Promise<CertificateAuthority> | undefined;
/** One proxy CA for a test file (making one costs tens of milliseconds). */
export function proxyCa(): Promise<CertificateAuthority> {
  sharedCa ??= createCertificateAuthority({ commonName: "Tendon egress test CA" });
  return sharedCa;
}

/**
 * A proxy listening on loopback. `hosts` maps "name:port" to a local port; anything else does not
 * resolve (so no test can ever reach a real address).
 */
export async function startProxy(
  policy: EgressPolicy,
  hosts: Record<string, number>,
  extra: Partial<EgressProxyOptions> = {},
): Promise<ProxyFixture> {
  const ca = await proxyCa();
  const secret = Buffer.from("egress-test-identity-secret-0123456789");
  const id = { sessionId: "sesn_test", sandboxId: "sbx_test" };
  const records: EgressRecord[] = [];
  const events = new EventEmitter();
  const ref = { current: policy };
  const proxy = createEgressProxy({
    ca,
    identitySecret: secret,
    policyFor: async () => ref.current,
    onRecord: (r) => {
      records.push(r);
      events.emit("record");
    },
    resolve: async (host, port) => {
      const p = hosts[`${host}:${port}`];
      if (p === undefined) throw new Error("unknown test host");
      return { host: "127.0.0.1", port: p };
    },
    ...extra,
  });
  const addr = await proxy.listen({ host: "127.0.0.1", port: 0 });
  return {
    proxy,
    port: Number(addr.split(":").at(-1)),
    ca,
    secret,
    id,
    records,
    policy: ref,
    waitRecords: async (n, from = 0, where = () => true) => {
      const matching = () => records.slice(from).filter(where);
      while (matching().length < n) await once(events, "record");
      return matching();
    },
    preamble: (o = {}) => signIdentity(o.secret ?? secret, id, o.ttlMs),
    close: () => proxy.close(),
  };
}

/** A raw connection to the proxy with `preamble` (if any) already written. */
export async function rawConnection(port: number, preamble: string | null): Promise<Socket> {
  const s = netConnect(port, "127.0.0.1");
  await once(s, "connect");
  if (preamble !== null) s.write(preamble);
  return s;
}

/** Everything the server sends until it closes the connection. */
export async function readUntilClose(s: Socket): Promise<string> {
  const chunks: Buffer[] = [];
  s.on("data", (c: Buffer) => chunks.push(c));
  s.on("error", () => {});
  if (!s.closed) await once(s, "close");
  return Buffer.concat(chunks).toString("utf8");
}

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  reusedSocket: boolean;
}

export interface RequestSpec {
  method?: string;
  /** Absolute for the proxy connection, a path inside a tunnel. */
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

/** One request over an already-open connection (or through `agent`), full reply read. */
export function send(
  spec: RequestSpec,
  via: { socket: Socket | TLSSocket } | { agent: HttpAgent },
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...(spec.headers ?? {}) };
    if (!Object.keys(headers).some((k) => k.toLowerCase() === "host") && !spec.path.startsWith("/")) {
      headers.host = new URL(spec.path).host;
    }
    const req = httpRequest({
      method: spec.method ?? (spec.body === undefined ? "GET" : "POST"),
      path: spec.path,
      headers,
      setHost: false,
      ...("socket" in via ? { createConnection: () => via.socket } : { agent: via.agent }),
    });
    req.on("error", reject);
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString("utf8"),
          reusedSocket: req.reusedSocket,
        }),
      );
      res.on("error", reject);
    });
    req.end(spec.body);
  });
}

/** A keep-alive agent over one already-open connection (a TLS session inside a tunnel). */
export class SocketAgent extends HttpAgent {
  private used = false;
  constructor(private readonly socket: Socket | TLSSocket) {
    super({ keepAlive: true, maxSockets: 1 });
  }
  override createConnection(): Socket {
    if (this.used) throw new Error("SocketAgent: the connection is gone");
    this.used = true;
    return this.socket;
  }
}

/** Absolute-form request to `url` over a fresh proxy connection. */
export async function viaProxy(
  fx: ProxyFixture,
  url: string,
  spec: Omit<RequestSpec, "path"> = {},
): Promise<Reply> {
  const socket = await rawConnection(fx.port, fx.preamble());
  try {
    return await send({ ...spec, path: url }, { socket });
  } finally {
    socket.destroy();
  }
}

/** An http.Agent whose connections go to the proxy, preamble first; counts connections made. */
export class ProxyAgent extends HttpAgent {
  connections = 0;
  constructor(private readonly fx: ProxyFixture) {
    super({ keepAlive: true, maxSockets: 1 });
  }
  override createConnection(): Socket {
    this.connections++;
    const s = netConnect(this.fx.port, "127.0.0.1");
    s.write(this.fx.preamble());
    return s;
  }
}

export interface Tunnel {
  status: number;
  head: string;
  tls?: TLSSocket;
  /** Keep-alive agent over the TLS session (requests need a `host` header). */
  agent?: SocketAgent;
  peer?: PeerCertificate;
  socket: Socket;
}

/** CONNECT host:port, then (on 200) TLS to `servername` trusting only `trust`. */
export async function openTunnel(
  fx: ProxyFixture,
  authority: string,
  trust: string[],
  opts: { servername?: string } = {},
): Promise<Tunnel> {
  const socket = await rawConnection(fx.port, fx.preamble());
  socket.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n\r\n`);
  let buf = Buffer.alloc(0);
  while (buf.indexOf("\r\n\r\n") === -1) {
    const [chunk] = (await Promise.race([once(socket, "data"), once(socket, "close")])) as [Buffer | boolean];
    if (!Buffer.isBuffer(chunk)) break;
    buf = Buffer.concat([buf, chunk]);
  }
  const text = buf.toString("utf8");
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
  if (status !== 200) return { status, head: text, socket };
  const tls = tlsConnect({
    socket,
    servername: opts.servername ?? authority.split(":")[0],
    ca: trust,
    ALPNProtocols: ["http/1.1"],
  });
  await once(tls, "secureConnect");
  return { status, head: text, tls, agent: new SocketAgent(tls), peer: tls.getPeerCertificate(), socket };
}

/** A local TCP port that relays each connection to the proxy, preamble first: a stand-in bridge for curl. */
export async function startBridge(fx: ProxyFixture): Promise<{ port: number; close(): Promise<void> }> {
  const server = createNetServer((client) => {
    const up = netConnect(fx.port, "127.0.0.1");
    up.write(fx.preamble());
    client.pipe(up).pipe(client);
    const end = () => {
      client.destroy();
      up.destroy();
    };
    client.on("error", end);
    up.on("error", end);
    client.on("close", end);
    up.on("close", end);
  });
  const port = await listening(server);
  return { port, close: () => new Promise<void>((r) => server.close(() => r())) };
}

/**
 * Like openTunnel, but the TLS ClientHello goes in the same write as the CONNECT head (as clients
 * that do not wait for the 200 send it), so the proxy finds it already read past the head.
 */
export async function openEagerTunnel(fx: ProxyFixture, authority: string, trust: string[]): Promise<Tunnel> {
  const socket = await rawConnection(fx.port, fx.preamble());
  const head = Buffer.from(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n\r\n`);
  let first = true;
  let response = Buffer.alloc(0);
  let inBody = false;
  const shim = new Duplex({
    read() {},
    write(chunk: Buffer, _enc, cb) {
      socket.write(first ? Buffer.concat([head, chunk]) : chunk, cb);
      first = false;
    },
    final(cb) {
      socket.end(cb);
    },
  });
  socket.on("data", (c: Buffer) => {
    if (inBody) return void shim.push(c);
    response = Buffer.concat([response, c]);
    const end = response.indexOf("\r\n\r\n");
    if (end === -1) return;
    inBody = true;
    if (!response.subarray(0, end).toString("latin1").startsWith("HTTP/1.1 200")) {
      return void shim.destroy(new Error(response.toString("latin1")));
    }
    shim.push(response.subarray(end + 4));
  });
  socket.on("end", () => shim.push(null));
  const tls = tlsConnect({ socket: shim, servername: authority.split(":")[0], ca: trust });
  await once(tls, "secureConnect");
  return {
    status: 200,
    head: response.toString("latin1"),
    tls,
    agent: new SocketAgent(tls),
    peer: tls.getPeerCertificate(),
    socket,
  };
}

/** A TCP echo server (for raw tunnels). */
export async function startEcho(): Promise<{ port: number; close(): Promise<void> }> {
  const server = createNetServer((c) => c.pipe(c));
  const port = await listening(server);
  return { port, close: () => new Promise<void>((r) => server.close(() => r())) };
}
