/**
 * The harness's view of one leased session: reads the log incrementally and appends with its
 * fencing epoch. Every call is idempotent (reads by position, appends by key), so transient bus or
 * database failures are retried here with backoff.
 */
import type { Bus } from "@tendon/bus";
import {
  AppError,
  type AppendItem,
  type AppendResult,
  type LoggedEvent,
  type LogPage,
  SessionLog,
} from "@tendon/contracts";
import type { Clock } from "@tendon/runtime";

export class Fenced extends Error {
  constructor() {
    super("this worker's lease on the session was taken over");
    this.name = "Fenced";
  }
}

export interface RetryPolicy {
  attempts: number;
  baseMs: number;
  maxMs: number;
}

export async function withRetry<T>(
  clock: Clock,
  policy: RetryPolicy,
  fn: () => Promise<T>,
  signal?: AbortSignal,
): Promise<T> {
  let delay = policy.baseMs;
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (e) {
      const retryable = e instanceof AppError && e.retryable;
      if (!retryable || i >= policy.attempts || signal?.aborted) throw e;
      await clock.sleep(delay, signal);
      delay = Math.min(delay * 2, policy.maxMs);
    }
  }
}

export class SessionLogClient {
  readonly events: LoggedEvent[] = [];
  private basis = 0;
  /** The view ends where the log ended at the last reply (nothing to read until more arrives). */
  private current = false;

  constructor(
    private readonly bus: Bus,
    private readonly clock: Clock,
    private readonly retry: RetryPolicy,
    readonly sessionId: string,
    readonly workerId: string,
    readonly epoch: number,
  ) {}

  /** The last seq read: every decision is made on the log up to here. */
  get basisSeq(): number {
    return this.basis;
  }

  /**
   * Starts the view from a page read for this worker (the acquire's reply), so a fresh turn does
   * not read the log again before it acts.
   */
  seed(page: LogPage): void {
    this.take(page.events);
    this.current = this.basis >= page.last_seq;
  }

  /**
   * Reads everything appended since the last read; nothing when the last reply already showed the
   * log's end (what arrives after that is seen on the next call, as if it had arrived later).
   */
  async refresh(): Promise<void> {
    if (this.current) {
      this.current = false;
      return;
    }
    for (;;) {
      const r = await withRetry(this.clock, this.retry, () =>
        this.bus.request(SessionLog.eventsRange, {
          session_id: this.sessionId,
          after_seq: this.basis,
          limit: 1000,
        }),
      );
      this.take(r.events);
      if (r.events.length === 0 || this.basis >= r.last_seq) return;
    }
  }

  /**
   * Appends (idempotently by key), then reads the log forward so the local view includes them.
   * Throws `Fenced` when the lease is gone and an AppError `input_pending` when an idle was refused.
   */
  async append(items: AppendItem[], opts: { release?: boolean } = {}): Promise<AppendResult> {
    this.current = false; // the log moves: only this reply (or a read) says where it ends now
    let result: AppendResult;
    try {
      result = await withRetry(this.clock, this.retry, () =>
        this.bus.request(SessionLog.harnessAppend, {
          session_id: this.sessionId,
          worker_id: this.workerId,
          epoch: this.epoch,
          basis_seq: this.basis,
          items,
          ...(opts.release ? { release: true } : {}),
        }),
      );
    } catch (e) {
      if (
        e instanceof AppError &&
        (e.code === "fenced" || (e.code === "conflict" && e.details?.error_code === "session_terminated"))
      ) {
        throw new Fenced();
      }
      throw e;
    }
    if (!opts.release && !this.adopt(result)) await this.refresh();
    return result;
  }

  /**
   * Takes an append's events into the view when they are exactly what follows it (nothing else
   * was appended in between), which saves reading them back. False when a read is needed.
   */
  private adopt(r: AppendResult): boolean {
    const next = r.events.filter((e) => e.seq > this.basis).sort((a, b) => a.seq - b.seq);
    const contiguous = next.every((e, i) => e.seq === this.basis + 1 + i && e.internal !== undefined);
    if (!contiguous || r.last_seq !== this.basis + next.length) return false;
    this.take(next.map((e) => ({ seq: e.seq, event: e.event, internal: e.internal ?? null })));
    this.current = true;
    return true;
  }

  private take(events: LoggedEvent[]): void {
    for (const e of events) {
      if (e.seq !== this.basis + 1)
        throw new AppError("internal", `log gap: expected seq ${this.basis + 1}, got ${e.seq}`);
      this.events.push(e);
      this.basis = e.seq;
    }
  }

  async release(rewake: boolean): Promise<void> {
    await withRetry(this.clock, this.retry, () =>
      this.bus.request(SessionLog.harnessRelease, {
        session_id: this.sessionId,
        worker_id: this.workerId,
        epoch: this.epoch,
        rewake,
      }),
    );
  }
}
