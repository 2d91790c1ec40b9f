/**
 * Minting API keys through the session-log (the only holder of the key table), and re-sealing
 * credentials through the credential-proxy: operator commands, run as NATS's admin user
 * (NATS_USER/NATS_PASSWORD or NATS_TOKEN when the server has users).
 */
import { type Bus, createBus } from "@tendon/bus";
import { CredentialProxy, SessionLog } from "@tendon/contracts";

export interface NatsTarget {
  natsUrl: string;
  prefix: string;
  user?: string | undefined;
  pass?: string | undefined;
  token?: string | undefined;
}

async function withBus<T>(t: NatsTarget, fn: (bus: Bus) => Promise<T>): Promise<T> {
  const bus = await createBus({
    servers: t.natsUrl,
    prefix: t.prefix,
    name: `tendon-cli-${process.pid}`,
    ...(t.user ? { user: t.user, pass: t.pass ?? "" } : {}),
    ...(t.token ? { token: t.token } : {}),
  });
  try {
    return await fn(bus);
  } finally {
    await bus.close();
  }
}

export function createApiKey(opts: NatsTarget & { name: string }): Promise<{ id: string; key: string }> {
  return withBus(opts, async (bus) => {
    const r = await bus.request(SessionLog.keysCreate, { name: opts.name });
    return { id: r.id, key: r.key };
  });
}

export function rotateCredentials(opts: NatsTarget): Promise<{ key_id: string; resealed: number }> {
  return withBus(opts, (bus) => bus.request(CredentialProxy.keysRotate, {}));
}
