/**
 * Minting API keys through the session-log (the only holder of the key table).
 */
import { createBus } from "@tendon/bus";
import { CredentialProxy, SessionLog } from "@tendon/contracts";

export async function createApiKey(opts: {
  natsUrl: string;
  prefix: string;
  name: string;
}): Promise<{ id: string; key: string }> {
  const bus = await createBus({
    servers: opts.natsUrl,
    prefix: opts.prefix,
    name: `tendon-cli-${process.pid}`,
  });
  try {
    const r = await bus.request(SessionLog.keysCreate, { name: opts.name });
    return { id: r.id, key: r.key };
  } finally {
    await bus.close();
  }
}

export async function rotateCredentials(opts: {
  natsUrl: string;
  prefix: string;
}): Promise<{ key_id: string; resealed: number }> {
  const bus = await createBus({
    servers: opts.natsUrl,
    prefix: opts.prefix,
    name: `tendon-cli-${process.pid}`,
  });
  try {
    return await bus.request(CredentialProxy.keysRotate, {});
  } finally {
    await bus.close();
  }
}
