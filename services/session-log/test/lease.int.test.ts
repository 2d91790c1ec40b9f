/**
 * Leases, liveness and fencing against real Postgres and NATS, through the session-log's bus
 * endpoints: a live worker keeps its lease, a silent one loses it to the next with a higher
 * epoch, the old epoch can no longer write, and a turn cannot end over unread input.
 */
import { type Bus, createBus } from "@tendon/bus";
import { AppError, SessionLog } from "@tendon/contracts";
import { createDb, type Db, migrateToLatest, sql } from "@tendon/db";
import { randomIds, silentLogger, systemClock } from "@tendon/runtime";
import { cleanupNats, createDatabase, type TestDatabase, uniquePrefix, waitFor } from "@tendon/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSessionLog, type SessionLogService } from "../src/index.js";

let database: TestDatabase;
let db: Db;
let bus: Bus;
let service: SessionLogService;
let prefix: string;

beforeAll(async () => {
  database = await createDatabase(process.env.DATABASE_URL!);
  db = createDb({ url: database.url });
  await migrateToLatest(db);
  prefix = uniquePrefix("lease");
  bus = await createBus({ servers: process.env.NATS_URL!, prefix, name: "lease-test" });
  // No sweeper: the tests below decide when leases lapse.
  service = sessionLog(0);
  await service.start();
});
afterAll(async () => {
  await service?.stop();
  await bus?.close();
  await db?.close();
  await cleanupNats(process.env.NATS_URL!, prefix);
  await database?.drop();
});

/** A session-log on the test's bus and database; `sweepIntervalMs` 0 runs no sweeper. */
function sessionLog(sweepIntervalMs: number): SessionLogService {
  return createSessionLog({
    bus,
    db,
    clock: systemClock,
    ids: randomIds,
    log: silentLogger,
    config: { sweepIntervalMs, sweepGraceMs: 0, sweepRewakeMs: 500, maxReplyBytes: 512 * 1024 },
  });
}

async function runningSession(): Promise<string> {
  const agent = await bus.request(SessionLog.agentsCreate, { name: "a", model: "m" });
  const env = await bus.request(SessionLog.environmentsCreate, { name: `e-${Math.random()}` });
  const s = await bus.request(SessionLog.sessionsCreate, { agent: agent.id, environment_id: env.id });
  await bus.request(SessionLog.eventsSend, {
    session_id: s.id,
    events: [{ type: "user.message", content: [{ type: "text", text: "hi" }] }],
  });
  return s.id;
}

/** An agent.message appended by `workerId` under `epoch`: the error, or undefined if it was taken. */
const appendUnder = (sessionId: string, workerId: string, epoch: number) =>
  fails(
    bus.request(SessionLog.harnessAppend, {
      session_id: sessionId,
      worker_id: workerId,
      epoch,
      basis_seq: 2,
      items: [{ key: "late", payload: { type: "agent.message", content: [{ type: "text", text: "x" }] } }],
    }),
  );

const fails = async (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => e as AppError,
  );

describe("client events with an Idempotency-Key", () => {
  it("a retry returns the events the first try appended; the key reused for other events is refused", async () => {
    const id = await runningSession();
    const send = (text: string[], key: string) =>
      bus.request(
        SessionLog.eventsSend,
        {
          session_id: id,
          events: text.map((t) => ({
            type: "user.message" as const,
            content: [{ type: "text" as const, text: t }],
          })),
        },
        { headers: { "Idempotency-Key": key } },
      );
    const first = await send(["one", "two"], "k-1");
    const retry = await send(["one", "two"], "k-1");
    expect(retry.data).toEqual(first.data);
    const reused = await fails(send(["one", "two", "three"], "k-1"));
    expect(reused).toMatchObject({ code: "conflict", details: { error_code: "idempotency_key_reused" } });
    const log = await bus.request(SessionLog.eventsList, { session_id: id, query: {} });
    const texts = log.data.flatMap((e) => (e.type === "user.message" ? e.content.map((c) => c.text) : []));
    expect(texts).toEqual(["hi", "one", "two"]);
  });
});

describe("leases", () => {
  it("a heartbeating worker keeps its lease; a silent one loses it to the next, whose epoch fences the old", async () => {
    const id = await runningSession();
    await bus.request(SessionLog.workersHeartbeat, { worker_id: "w1", ttl_ms: 800 });
    const a = await bus.request(SessionLog.harnessAcquire, { session_id: id, worker_id: "w1" });
    expect(a.epoch).toBe(1);
    expect(a.session.status).toBe("running");

    // While w1 heartbeats, w2 cannot take the session (checked across several TTLs).
    for (let i = 0; i < 4; i++) {
      await bus.request(SessionLog.workersHeartbeat, { worker_id: "w1", ttl_ms: 800 });
      const held = await fails(bus.request(SessionLog.harnessAcquire, { session_id: id, worker_id: "w2" }));
      expect(held).toMatchObject({ code: "conflict", details: { error_code: "lease_held" } });
    }

    // w1 goes silent: once its liveness row expires, w2 takes over with epoch 2.
    const b = await waitFor(
      () =>
        bus.request(SessionLog.harnessAcquire, { session_id: id, worker_id: "w2" }).catch(() => undefined),
      {
        timeoutMs: 10_000,
      },
    );
    expect(b.epoch).toBe(2);

    const item = {
      key: "late",
      payload: { type: "agent.message" as const, content: [{ type: "text" as const, text: "late" }] },
    };
    const late = await fails(
      bus.request(SessionLog.harnessAppend, {
        session_id: id,
        worker_id: "w1",
        epoch: 1,
        basis_seq: 2,
        items: [item],
      }),
    );
    expect(late).toBeInstanceOf(AppError);
    expect(late).toMatchObject({ code: "fenced" });

    const ok = await bus.request(SessionLog.harnessAppend, {
      session_id: id,
      worker_id: "w2",
      epoch: 2,
      basis_seq: 2,
      items: [item],
    });
    expect(ok.events[0]?.seq).toBe(3);
    // The same key again returns the same event (idempotent append).
    const again = await bus.request(SessionLog.harnessAppend, {
      session_id: id,
      worker_id: "w2",
      epoch: 2,
      basis_seq: 3,
      items: [item],
    });
    expect(again.events[0]).toEqual(ok.events[0]);
  });

  it("a live worker's heartbeat gives back the leases it does not drive (a turn that failed to release)", async () => {
    const id = await runningSession();
    const beat = (driving: string[]) =>
      bus.request(SessionLog.workersHeartbeat, { worker_id: "w9", ttl_ms: 300, driving });
    await beat([]);
    const mine = await bus.request(SessionLog.harnessAcquire, { session_id: id, worker_id: "w9" });
    // Named in its heartbeats, the lease stays with it past the grace (the heartbeat's TTL).
    await waitFor(async () => {
      await beat([id]);
      const r = await sql<{
        age_ms: number;
      }>`select extract(epoch from clock_timestamp() - lease_granted_at) * 1000
        as age_ms from session_log.sessions where id = ${id}`.execute(db.kysely);
      return Number(r.rows[0]?.age_ms) > 600;
    });
    await beat([id]);
    const held = await fails(bus.request(SessionLog.harnessAcquire, { session_id: id, worker_id: "w10" }));
    expect(held).toMatchObject({ details: { error_code: "lease_held" } });

    // Not named (its turn failed and the release was lost): the next heartbeat gives it back.
    await beat([]);
    const next = await bus.request(SessionLog.harnessAcquire, { session_id: id, worker_id: "w10" });
    expect(next.epoch).toBe(mine.epoch + 1);
    expect(await appendUnder(id, "w9", mine.epoch)).toMatchObject({ code: "fenced" });
  });

  it("a worker that retries its acquire (the first reply lost) gets its own lease back, under a new epoch", async () => {
    const id = await runningSession();
    await bus.request(SessionLog.workersHeartbeat, { worker_id: "w7", ttl_ms: 60_000 });
    const first = await bus.request(SessionLog.harnessAcquire, { session_id: id, worker_id: "w7" });
    const again = await bus.request(SessionLog.harnessAcquire, { session_id: id, worker_id: "w7" });
    expect(again.epoch).toBe(first.epoch + 1);
    // Others are still kept out, and the first grant is fenced.
    const held = await fails(bus.request(SessionLog.harnessAcquire, { session_id: id, worker_id: "w8" }));
    expect(held).toMatchObject({ code: "conflict", details: { error_code: "lease_held" } });
    expect(await appendUnder(id, "w7", first.epoch)).toMatchObject({ code: "fenced" });
  });

  it("a worker whose NATS connection closes loses its leases at the next sweep, long before its TTL", async () => {
    const id = await runningSession();
    const workerBus = await createBus({ servers: process.env.NATS_URL!, prefix, name: "lease-test-worker" });
    // Swept by hand below (sweepOnce), not by its timer.
    const sweeping = sessionLog(3_600_000);
    await sweeping.start();
    try {
      await workerBus.servePresence("w5");
      await workerBus.request(SessionLog.workersHeartbeat, { worker_id: "w5", ttl_ms: 600_000 });
      const a = await workerBus.request(SessionLog.harnessAcquire, { session_id: id, worker_id: "w5" });
      // Alive (its presence answers): sweeps leave its lease alone.
      for (let i = 0; i < 3; i++) await sweeping.sweeper!.sweepOnce();
      const held = await fails(bus.request(SessionLog.harnessAcquire, { session_id: id, worker_id: "w6" }));
      expect(held).toMatchObject({ code: "conflict", details: { error_code: "lease_held" } });

      // Its connection closes (as when the process is killed): the next sweep ends its liveness
      // and re-wakes the session, though its TTL has ten minutes left.
      await workerBus.close();
      await sweeping.sweeper!.sweepOnce();
      const b = await bus.request(SessionLog.harnessAcquire, { session_id: id, worker_id: "w6" });
      expect(b.epoch).toBe(a.epoch + 1);
    } finally {
      await sweeping.stop();
      await workerBus.close().catch(() => {});
    }
  });

  it("refuses to end a turn over input the harness has not read", async () => {
    const id = await runningSession();
    await bus.request(SessionLog.workersHeartbeat, { worker_id: "w3", ttl_ms: 5_000 });
    const { epoch, session } = await bus.request(SessionLog.harnessAcquire, {
      session_id: id,
      worker_id: "w3",
    });
    await bus.request(SessionLog.eventsSend, {
      session_id: id,
      events: [{ type: "user.message", content: [{ type: "text", text: "more" }] }],
    });
    const idle = {
      key: "idle",
      payload: {
        type: "session.status_idle" as const,
        stop_reason: { type: "end_turn" as const },
        stop_details: null,
      },
    };
    const refused = await fails(
      bus.request(SessionLog.harnessAppend, {
        session_id: id,
        worker_id: "w3",
        epoch,
        basis_seq: session.last_seq,
        items: [idle],
      }),
    );
    expect(refused).toMatchObject({ code: "input_pending" });
    const tail = await bus.request(SessionLog.eventsTail, { session_id: id });
    const done = await bus.request(SessionLog.harnessAppend, {
      session_id: id,
      worker_id: "w3",
      epoch,
      basis_seq: tail.last_seq,
      items: [idle],
      release: true,
    });
    expect(done.events[0]?.event.type).toBe("session.status_idle");
    expect((await bus.request(SessionLog.eventsTail, { session_id: id })).status).toBe("idle");
  });
});
