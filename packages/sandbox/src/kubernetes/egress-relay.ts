/**
 * The kubernetes provider's egress relay: one TCP listener in the sandbox-manager pod that sandbox
 * pods reach (the only address their NetworkPolicy allows). A connection is accepted only from the
 * pod IP of a live sandbox, and relayed to that sandbox's egress socket (the sandbox-manager's
 * bridge, which signs the sandbox's identity for the credential-proxy). Pod IPs are what the
 * cluster network gives a pod, so a sandbox can only ever speak as itself.
 */
import { connect, createServer, type Server } from "node:net";

export interface EgressRelay {
  readonly port: number;
  /** Routes connections from `podIp` to `socketPath` until the returned function is called. */
  register(podIp: string, socketPath: string): () => void;
  close(): Promise<void>;
}

const plain = (ip: string | undefined) => (ip ?? "").replace(/^::ffff:/, "");

export async function startEgressRelay(opts: { host: string; port: number }): Promise<EgressRelay> {
  const routes = new Map<string, string>();
  const server: Server = createServer((client) => {
    const target = routes.get(plain(client.remoteAddress));
    if (!target) {
      client.destroy();
      return;
    }
    const upstream = connect(target);
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
    server.listen(opts.port, opts.host, () => resolve());
  });
  const address = server.address();
  return {
    port: typeof address === "object" && address ? address.port : opts.port,
    register(podIp, socketPath) {
      routes.set(plain(podIp), socketPath);
      return () => {
        if (routes.get(plain(podIp)) === socketPath) routes.delete(plain(podIp));
      };
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
