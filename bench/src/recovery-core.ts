/**
 * Recovery after a harness worker dies or freezes, measured on a running stack. Shared by
 * `pnpm bench recovery` (bench/src/recovery.ts) and the resilience test
 * (test/chaos/recovery.test.ts), so both measure exactly the same thing.
 *
 * One round starts `sessions` sessions whose model answer streams for a few seconds, waits until
 * all are inside their model call, then hits the worker holding the most of them:
 *
 * - SIGKILL: the kernel closes its NATS socket, so the session-log sweeper's presence probe finds
 *   it gone within a sweep;
 * - SIGSTOP: a frozen worker (long GC pause, stalled VM, partition): its connection stays open
 *   and its presence subscription exists but never answers, so only its lease TTL ends it. It is
 *   SIGKILLed once its sessions have moved on.
 *
 * It records, per orphaned session, the time from the signal to the session's next logged event
 * (written by the new holder) and to the lease takeover (a higher lease epoch). A replacement
 * worker is started right after the signal, as an orchestrator would. Times come from the log's
 * `processed_at` (the session-log's clock, the same machine clock as this process), so the
 * polling interval does not add to them.
 *
 * Baseline, same stack: a wake-up without any failure, i.e. `user.message` sent → the session's
 * next logged event after it (the holder's first append), timed the same way.
 */
import type Anthropic from "@anthropic-ai/sdk";
import type { Stack } from "@tendon/cli";
import { createDb, type Db } from "@tendon/db";
import type { MockModel } from "@tendon/mock-model";
import { type ManagedProcess, waitFor } from "@tendon/testing";

/** What a measurement needs from a running stack (a bench stack or a test stack). */
export interface RecoveryTarget {
  client: Anthropic;
  mock: MockModel;
  stack: Stack;
  databaseUrl: string;
}

export type FailureSignal = "SIGKILL" | "SIGSTOP";

export interface RecoveryRound {
  signal: FailureSignal;
  /** Per orphaned session: signal → its next logged event, ms. */
  nextEventMs: number[];
  /** Per orphaned session: signal → a new holder's lease (higher epoch), ms. */
  takeoverMs: number[];
  sessions: number;
  orphans: number;
}

export interface RoundOptions {
  signal: FailureSignal;
  /** Sessions started in the round (spread over the stack's workers). */
  sessions: number;
  environmentId: string;
  /** Distinguishes this round's models from other rounds'. */
  tag: string;
  /** Words in the streamed answer (30 ms each): the kill must land inside it. @default 120 */
  words?: number;
  timeoutMs?: number;
}

/** The worker id a harness process announced in its ready line. */
export function workerIdOf(p: ManagedProcess): string {
  for (const line of p.lines()) {
    if (!line.includes('"event":"ready"')) continue;
    const id = (JSON.parse(line) as { worker_id?: string }).worker_id;
    if (id) return id;
  }
  throw new Error(`${p.name} has not announced a worker id`);
}

/** Read-only queries on the session log (never used to drive the system). */
export class LogProbe {
  private readonly db: Db;
  constructor(databaseUrl: string) {
    this.db = createDb({ url: databaseUrl, max: 2, applicationName: "bench-recovery" });
  }
  private async rows<T>(text: string, values: unknown[]): Promise<T[]> {
    return (await this.db.pool.query(text, values)).rows as T[];
  }
  /** The type of each session's last event. */
  async lastTypes(ids: string[]): Promise<Map<string, string>> {
    const r = await this.rows<{ id: string; type: string }>(
      `select distinct on (session_id) session_id as id, type from ${this.db.schema}.events
        where session_id = any($1) order by session_id, seq desc`,
      [ids],
    );
    return new Map(r.map((x) => [x.id, x.type]));
  }
  /** Lease owners, epochs and statuses. */
  async leases(ids: string[]): Promise<Map<string, { owner: string | null; epoch: number; status: string }>> {
    const r = await this.rows<{ id: string; owner: string | null; epoch: number; status: string }>(
      `select id, lease_owner as owner, lease_epoch::int as epoch, status from ${this.db.schema}.sessions
        where id = any($1)`,
      [ids],
    );
    return new Map(r.map((x) => [x.id, { owner: x.owner, epoch: x.epoch, status: x.status }]));
  }
  /** When each session's first event after `after` was written, for those that have one. */
  async firstEventAfter(ids: string[], after: Date, exceptType = ""): Promise<Map<string, Date>> {
    const r = await this.rows<{ id: string; at: Date }>(
      `select session_id as id, min(processed_at) as at from ${this.db.schema}.events
        where session_id = any($1) and processed_at > $2 and type <> $3 group by session_id`,
      [ids, after, exceptType],
    );
    return new Map(r.map((x) => [x.id, x.at]));
  }
  close(): Promise<void> {
    return this.db.close();
  }
}

/** A streamed answer long enough (~words × 30 ms) that a kill lands inside it. */
function scriptLongAnswer(mock: MockModel, model: string, words: number): void {
  const text = Array.from({ length: words }, (_, i) => `w${i}`).join(" ");
  mock.script(model, {
    steps: [{ content: [{ type: "text", text }], latency: { first_token_ms: 50, per_token_ms: 30 } }],
    repeat_last: true,
  });
}

/** One round: sessions inside their model call, the busiest worker hit by `signal`. */
export async function recoveryRound(
  t: RecoveryTarget,
  logs: LogProbe,
  opts: RoundOptions,
): Promise<RecoveryRound> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const ids: string[] = [];
  for (let i = 0; i < opts.sessions; i++) {
    const model = `recovery-${opts.tag}-${i}`;
    scriptLongAnswer(t.mock, model, opts.words ?? 120);
    const agent = await t.client.beta.agents.create({ name: model, model });
    const s = await t.client.beta.sessions.create({ agent: agent.id, environment_id: opts.environmentId });
    ids.push(s.id);
  }
  // All at once, so every session is inside its answer at the same time even on a slow machine.
  await Promise.all(
    ids.map((id) =>
      t.client.beta.sessions.events.send(id, {
        events: [{ type: "user.message", content: [{ type: "text", text: "go" }] }],
      }),
    ),
  );
  await waitFor(
    async () => {
      const last = await logs.lastTypes(ids);
      return ids.every((id) => last.get(id) === "span.model_request_start");
    },
    { timeoutMs: 30_000, message: "every session inside its model call" },
  );
  const before = await logs.leases(ids);
  const counts = new Map<string, number>();
  for (const { owner } of before.values()) if (owner) counts.set(owner, (counts.get(owner) ?? 0) + 1);
  const [victimId] = [...counts].sort((a, b) => b[1] - a[1])[0]!;
  const victim = t.stack.harness.find((p) => workerIdOf(p) === victimId);
  if (!victim) throw new Error(`no harness process announced worker id ${victimId}`);
  const orphans = ids.filter((id) => before.get(id)?.owner === victimId);

  const hitAt = new Date();
  victim.kill(opts.signal);
  t.stack.harness.splice(t.stack.harness.indexOf(victim), 1);
  if (opts.signal === "SIGKILL") await victim.exited;
  const replacement = t.stack.startService("harness-worker");
  const nextEventMs: number[] = [];
  const takeoverMs: number[] = [];
  try {
    const pending = new Set(orphans);
    const tookOver = new Set<string>();
    await waitFor(
      async () => {
        const now = await logs.leases(orphans);
        const seenAt = Date.now();
        for (const id of orphans) {
          if (!tookOver.has(id) && now.get(id)!.epoch > before.get(id)!.epoch) {
            tookOver.add(id);
            takeoverMs.push(seenAt - hitAt.getTime());
          }
        }
        const next = await logs.firstEventAfter([...pending], hitAt);
        for (const [id, at] of next) {
          nextEventMs.push(at.getTime() - hitAt.getTime());
          pending.delete(id);
        }
        return pending.size === 0 && tookOver.size === orphans.length;
      },
      { timeoutMs, intervalMs: 10, message: "every orphaned session moved on" },
    );
  } finally {
    // A frozen worker is ended once its sessions have moved on (or the wait gave up).
    if (opts.signal !== "SIGKILL") {
      victim.kill("SIGKILL");
      await victim.exited;
    }
    await replacement;
  }
  // The round's sessions finish before the next round starts.
  await waitFor(async () => [...(await logs.leases(ids)).values()].every((l) => l.status === "idle"), {
    timeoutMs,
    message: "the round's sessions finished",
  });
  return { signal: opts.signal, nextEventMs, takeoverMs, sessions: ids.length, orphans: orphans.length };
}

/**
 * The no-failure baseline: on one idle session, `n` times: `user.message` sent → the session's
 * next logged event after it (the holder's first append), then wait for the turn to end.
 */
export async function wakeToNextEvent(
  t: RecoveryTarget,
  logs: LogProbe,
  opts: { environmentId: string; tag: string; n: number },
): Promise<number[]> {
  const model = `recovery-baseline-${opts.tag}`;
  t.mock.script(model, { steps: [{ content: [{ type: "text", text: "awake" }] }], repeat_last: true });
  const agent = await t.client.beta.agents.create({ name: model, model });
  const s = await t.client.beta.sessions.create({ agent: agent.id, environment_id: opts.environmentId });
  const out: number[] = [];
  for (let i = 0; i < opts.n; i++) {
    const sent = new Date();
    await t.client.beta.sessions.events.send(s.id, {
      events: [{ type: "user.message", content: [{ type: "text", text: "wake up" }] }],
    });
    const at = await waitFor(
      async () => (await logs.firstEventAfter([s.id], sent, "user.message")).get(s.id),
      { timeoutMs: 30_000, intervalMs: 5, message: "the woken session's next event" },
    );
    out.push(at.getTime() - sent.getTime());
    await waitFor(async () => (await logs.leases([s.id])).get(s.id)?.status === "idle", {
      timeoutMs: 30_000,
      intervalMs: 10,
      message: "the baseline turn ended",
    });
  }
  return out;
}
