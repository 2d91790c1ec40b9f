/**
 * Per-test NATS prefixes and their cleanup.
 *
 * Invariants:
 * - `uniquePrefix()` is one valid subject token (`[A-Za-z0-9_-]`), unique per call.
 * - A prefix's streams are named like `subjects(prefix).wakeStream()` in @tendon/contracts:
 *   the prefix with every other character replaced by `_`, uppercased, then `_<SUFFIX>`.
 *   `cleanupNats` deletes exactly those (name === form or starts with `form_`), nothing else.
 */
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { randomBase36 } from "./random.js";

/** A fresh NATS subject prefix: `t_<random>` or `t_<tag>_<random>`. */
export function uniquePrefix(tag?: string): string {
  const clean = tag
    ?.toLowerCase()
    .replace(/[^a-z0-9_-]+/g, "_")
    .replace(/^_+|_+$/g, "")
    .slice(0, 24);
  return clean ? `t_${clean}_${randomBase36()}` : `t_${randomBase36()}`;
}

/** The stream-name form of a prefix: `t_abc` → `T_ABC`. */
export function streamNamePrefix(prefix: string): string {
  return prefix.replace(/[^A-Za-z0-9_-]/g, "_").toUpperCase();
}

/** Deletes every JetStream stream that belongs to `prefix`. */
export async function cleanupNats(natsUrl: string, prefix: string): Promise<void> {
  const form = streamNamePrefix(prefix);
  if (form === "") throw new Error("cleanupNats: empty prefix");
  const nc = await connect({ servers: natsUrl, reconnect: false });
  try {
    let jsm: Awaited<ReturnType<typeof jetstreamManager>>;
    try {
      jsm = await jetstreamManager(nc);
    } catch (err) {
      if (/jetstream not enabled/i.test(String(err))) return; // no JetStream, no streams
      throw err;
    }
    const mine: string[] = [];
    for await (const name of jsm.streams.names()) {
      if (name === form || name.startsWith(`${form}_`)) mine.push(name);
    }
    for (const name of mine) {
      try {
        await jsm.streams.delete(name);
      } catch (err) {
        if (!/stream not found/i.test(String(err))) throw err;
      }
    }
  } finally {
    await nc.close();
  }
}
