import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { describe, expect, it } from "vitest";
import { cleanupNats, streamNamePrefix, uniquePrefix } from "./nats.js";

const natsUrl = process.env.NATS_URL;

describe("uniquePrefix", () => {
  it("is a single valid subject token, unique per call", () => {
    const a = uniquePrefix();
    const b = uniquePrefix();
    expect(a).toMatch(/^t_[0-9a-z]{10}$/);
    expect(a).not.toBe(b);
  });

  it("includes a sanitized tag", () => {
    expect(uniquePrefix("Wake Queue.test")).toMatch(/^t_wake_queue_test_[0-9a-z]{10}$/);
    expect(uniquePrefix("...")).toMatch(/^t_[0-9a-z]{10}$/);
  });

  it("maps to the stream-name form used by @tendon/contracts", () => {
    expect(streamNamePrefix("t_abc")).toBe("T_ABC");
    expect(streamNamePrefix("t-x.y")).toBe("T-X_Y");
  });
});

describe.skipIf(!natsUrl)("cleanupNats (NATS_URL)", () => {
  it("deletes exactly the prefix's streams", async () => {
    const prefix = uniquePrefix("cleanup");
    const other = uniquePrefix("cleanup");
    const form = streamNamePrefix(prefix);
    const nc = await connect({ servers: natsUrl! });
    try {
      const jsm = await jetstreamManager(nc);
      await jsm.streams.add({ name: `${form}_WAKE`, subjects: [`${prefix}.wake.>`] });
      await jsm.streams.add({ name: `${form}_EVENTS`, subjects: [`${prefix}.events.>`] });
      await jsm.streams.add({ name: `${streamNamePrefix(other)}_WAKE`, subjects: [`${other}.wake.>`] });

      await cleanupNats(natsUrl!, prefix);

      const names: string[] = [];
      for await (const name of jsm.streams.names()) names.push(name);
      expect(names.filter((n) => n.startsWith(`${form}_`))).toEqual([]);
      expect(names).toContain(`${streamNamePrefix(other)}_WAKE`);

      await cleanupNats(natsUrl!, other);
      const after: string[] = [];
      for await (const name of jsm.streams.names()) after.push(name);
      expect(after).not.toContain(`${streamNamePrefix(other)}_WAKE`);

      await cleanupNats(natsUrl!, prefix); // nothing left: no error
    } finally {
      await nc.close();
    }
  });
});
