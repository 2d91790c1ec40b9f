/**
 * The host side of a sandbox's network: a unix socket per sandbox (bound into it) whose every
 * connection is relayed to the credential-proxy's egress listener, prefixed with a signed
 * identity line, so the proxy knows the session without the sandbox holding any credential.
 * Also writes the proxy's CA (and the system bundle plus it) for the sandbox to trust.
 */
import { createHash } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect, createServer, type Server } from "node:net";
import { join } from "node:path";
import { signIdentity } from "@tendon/egress";
import type { EgressSpec } from "@tendon/sandbox";

export interface EgressBridgeConfig {
  /** Where the credential-proxy's egress listener is. */
  host: string;
  port: number;
  /** Shared with the credential-proxy; signs the identity lines. */
  secret: Buffer;
  /** Host directory for sockets and CA files (must be traversable by other users). */
  dir: string;
}

export interface EgressBridge {
  spec: EgressSpec;
  close(): Promise<void>;
}

const MAX_SOCKET_PATH = 107;
const SYSTEM_BUNDLES = [
  "/etc/ssl/certs/ca-certificates.crt",
  "/etc/pki/tls/certs/ca-bundle.crt",
  "/etc/ssl/cert.pem",
];

export async function openEgressBridge(
  cfg: EgressBridgeConfig,
  ids: { sessionId: string; sandboxId: string },
  caCertPem: string,
): Promise<EgressBridge> {
  // Unix socket paths are limited to 107 bytes: name the directory by a short digest of the id.
  const dir = join(cfg.dir, createHash("sha256").update(ids.sandboxId).digest("hex").slice(0, 16));
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  chmodSync(cfg.dir, 0o755);
  chmodSync(dir, 0o755);
  const caCertPath = join(dir, "ca.pem");
  const caBundlePath = join(dir, "bundle.pem");
  writeFileSync(caCertPath, caCertPem, { mode: 0o644 });
  const system = SYSTEM_BUNDLES.find((p) => existsSync(p));
  writeFileSync(caBundlePath, `${system ? readFileSync(system, "utf8") : ""}\n${caCertPem}`, { mode: 0o644 });
  const socketPath = join(dir, "egress.sock");
  if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH) {
    throw new Error(
      `egress socket path ${socketPath} is longer than ${MAX_SOCKET_PATH} bytes; set a shorter sandbox directory`,
    );
  }
  const server: Server = createServer((client) => {
    const upstream = connect(cfg.port, cfg.host);
    upstream.write(signIdentity(cfg.secret, ids));
    client.pipe(upstream).pipe(client);
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("error", close);
    upstream.on("error", close);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(socketPath, () => resolve());
  });
  chmodSync(socketPath, 0o666);
  return {
    spec: { socketPath, caCertPath, caBundlePath },
    close: async () => {
      await new Promise<void>((r) => server.close(() => r()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
