import type { Bus } from "@tendon/bus";
import { type AppendResult, type LoggedEvent, SessionLog } from "@tendon/contracts";
import type { Clock } from "@tendon/runtime";
import { describe, expect, it } from "vitest";
import { SessionLogClient } from "./log-client.js";

const logged = (seq: number): LoggedEvent =>
  ({
    seq,
    event: { id: `sevt_${seq}`, type: "session.status_running", processed_at: "2026-01-01T00:00:00Z" },
    internal: null,
  }) as LoggedEvent;

/** A session-log on the bus port: a stored log, and the append reply the test chooses. */
function fakeLog(stored: LoggedEvent[], reply: (basis: number) => AppendResult) {
  const calls: string[] = [];
  const bus = {
    request: async (ep: unknown, req: { after_seq?: number; basis_seq?: number }) => {
      if (ep === SessionLog.eventsRange) {
        calls.push("range");
        const events = stored.filter((e) => e.seq > (req.after_seq ?? 0));
        return { events, last_seq: stored.at(-1)?.seq ?? 0 };
      }
      if (ep === SessionLog.harnessAppend) {
        calls.push("append");
        return reply(req.basis_seq ?? 0);
      }
      throw new Error("unexpected request");
    },
  } as unknown as Bus;
  const clock = { now: () => new Date(), sleep: async () => {} } as unknown as Clock;
  const client = new SessionLogClient(bus, clock, { attempts: 1, baseMs: 1, maxMs: 1 }, "sesn_x", "w", 1);
  return { client, calls };
}

const item = { key: "k", payload: { type: "session.status_running" as const } };

describe("SessionLogClient.append", () => {
  it("takes the appended events into its view without a read when they directly follow it", async () => {
    const stored = [logged(1), logged(2)];
    const { client, calls } = fakeLog(stored, () => {
      const e = logged(3);
      stored.push(e);
      return { events: [{ ...e, internal: { basis_seq: 2 } }], last_seq: 3 };
    });
    await client.refresh();
    await client.append([item]);
    expect(calls).toEqual(["range", "append"]);
    expect(client.basisSeq).toBe(3);
    expect(client.events.map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(client.events[2]?.internal).toEqual({ basis_seq: 2 });
    // The reply showed the log's end: the next refresh needs no read, the one after reads again.
    await client.refresh();
    expect(calls).toEqual(["range", "append"]);
    await client.refresh();
    expect(calls).toEqual(["range", "append", "range"]);
  });

  it("starts from the acquire's page without a read, and reads when the page was not the whole log", async () => {
    const whole = fakeLog([logged(1), logged(2)], () => ({ events: [], last_seq: 2 }));
    whole.client.seed({ events: [logged(1), logged(2)], last_seq: 2 });
    await whole.client.refresh();
    expect(whole.calls).toEqual([]);
    expect(whole.client.basisSeq).toBe(2);

    const part = fakeLog([logged(1), logged(2), logged(3)], () => ({ events: [], last_seq: 3 }));
    part.client.seed({ events: [logged(1)], last_seq: 3 });
    await part.client.refresh();
    expect(part.calls).toEqual(["range"]);
    expect(part.client.basisSeq).toBe(3);
  });

  it("an append whose reply cannot be taken reads the log even right after a page", async () => {
    const stored = [logged(1)];
    const { client, calls } = fakeLog(stored, () => {
      stored.push(logged(2), logged(3));
      return { events: [{ seq: 3, event: logged(3).event, internal: null }], last_seq: 3 };
    });
    client.seed({ events: [logged(1)], last_seq: 1 });
    await client.append([item]);
    expect(calls).toEqual(["append", "range"]);
    expect(client.basisSeq).toBe(3);
  });

  it("reads the log when something else was appended in between, or the reply lacks internal data", async () => {
    const stored = [logged(1)];
    const { client, calls } = fakeLog(stored, () => {
      stored.push(logged(2), logged(3)); // seq 2 is another writer's
      return { events: [{ seq: 3, event: logged(3).event, internal: null }], last_seq: 3 };
    });
    await client.refresh();
    await client.append([item]);
    expect(calls).toEqual(["range", "append", "range"]);
    expect(client.events.map((e) => e.seq)).toEqual([1, 2, 3]);

    const old = fakeLog([logged(1)], () => ({ events: [{ seq: 2, event: logged(2).event }], last_seq: 2 }));
    await old.client.refresh();
    await old.client.append([item]);
    expect(old.calls).toEqual(["range", "append", "range"]);
  });
});
