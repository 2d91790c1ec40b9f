/**
 * Read-only views of a stack's database for assertions about the log itself (seq, leases),
 * which the public API does not expose. Never used to drive the system.
 */
import { type ManagedProcess, waitFor } from "@tendon/testing";
import pg from "pg";

export interface LoggedRow {
  seq: number;
  id: string;
  type: string;
  body: Record<string, unknown>;
}

export class LogReader {
  private readonly pool: pg.Pool;
  constructor(
    databaseUrl: string,
    private readonly schema = "session_log",
  ) {
    this.pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
    this.pool.on("error", () => {});
  }

  async events(sessionId: string): Promise<LoggedRow[]> {
    const r = await this.pool.query(
      `select seq::int as seq, id, type, body from ${this.schema}.events where session_id = $1 order by seq`,
      [sessionId],
    );
    return r.rows as LoggedRow[];
  }

  async lease(sessionId: string): Promise<{ owner: string | null; epoch: number; status: string }> {
    const r = await this.pool.query(
      `select lease_owner as owner, lease_epoch::int as epoch, status from ${this.schema}.sessions where id = $1`,
      [sessionId],
    );
    return r.rows[0] as { owner: string | null; epoch: number; status: string };
  }

  /** Lease owners and epochs of these sessions (one query). */
  async owners(sessionIds: string[]): Promise<Map<string, { owner: string | null; epoch: number }>> {
    const r = await this.pool.query(
      `select id, lease_owner as owner, lease_epoch::int as epoch from ${this.schema}.sessions where id = any($1)`,
      [sessionIds],
    );
    return new Map(
      (r.rows as Array<{ id: string; owner: string | null; epoch: number }>).map((x) => [
        x.id,
        { owner: x.owner, epoch: x.epoch },
      ]),
    );
  }

  /** Event types and commit times in [from, to], in order (for post-mortems). */
  async timeline(sessionId: string, from: Date, to: Date): Promise<Array<{ type: string; at: Date }>> {
    const r = await this.pool.query(
      `select type, processed_at as at from ${this.schema}.events where session_id = $1 and processed_at between $2 and $3 order by seq`,
      [sessionId, from, to],
    );
    return r.rows as Array<{ type: string; at: Date }>;
  }

  /**
   * What the session was doing at `at`: "tool" when a tool call was in flight or it waited on
   * its client (a tool use without its result, or idle), else "model".
   */
  async phaseAt(sessionId: string, at: Date): Promise<"tool" | "model"> {
    const r = await this.pool.query(
      `select type from ${this.schema}.events where session_id = $1 and processed_at <= $2 order by seq`,
      [sessionId, at],
    );
    let pending = 0;
    let idle = false;
    for (const { type } of r.rows as Array<{ type: string }>) {
      if (/^agent\.(custom_|mcp_)?tool_use$/.test(type)) pending++;
      else if (
        type === "agent.tool_result" ||
        type === "agent.mcp_tool_result" ||
        type === "user.custom_tool_result"
      )
        pending--;
      if (type === "session.status_idle") idle = true;
      else if (type === "session.status_running") idle = false;
    }
    return pending > 0 || idle ? "tool" : "model";
  }

  /** When the first event after `after` was written, if there is one. */
  async firstEventAfter(sessionId: string, after: Date): Promise<Date | undefined> {
    const r = await this.pool.query(
      `select min(processed_at) as at from ${this.schema}.events where session_id = $1 and processed_at > $2`,
      [sessionId, after],
    );
    return (r.rows[0] as { at: Date | null }).at ?? undefined;
  }

  close(): Promise<void> {
    return this.pool.end();
  }
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

/** The log of a turn answered with one message. */
export const ONE_REPLY_TURN = [
  "user.message",
  "session.status_running",
  "span.model_request_start",
  "agent.message",
  "span.model_request_end",
  "session.status_idle",
];

/** The same turn when its first model call was cut off (the worker died or handed it back). */
export const REPLY_AFTER_TAKEOVER = [
  "user.message",
  "session.status_running",
  "span.model_request_start",
  "span.model_request_end", // the cut-off call, closed as abandoned by the worker that took over
  "span.model_request_start",
  "agent.message",
  "span.model_request_end",
  "session.status_idle",
];

/** The harness process holding a session's lease (waits until one does), and the others. */
export async function leaseHolder(
  logs: LogReader,
  workers: ManagedProcess[],
  sessionId: string,
): Promise<{ proc: ManagedProcess; others: ManagedProcess[]; epoch: number }> {
  const lease = await waitFor(async () => {
    const l = await logs.lease(sessionId);
    return l.owner ? l : undefined;
  });
  const proc = workers.find((w) => workerIdOf(w) === lease.owner);
  if (!proc) throw new Error(`lease owner ${lease.owner} is not one of the workers`);
  return { proc, others: workers.filter((w) => w !== proc), epoch: lease.epoch };
}

/** Asserts the log's seqs are exactly 1..n and ids unique; returns the types in order. */
export function checkLogShape(rows: LoggedRow[]): string[] {
  rows.forEach((r, i) => {
    if (r.seq !== i + 1) throw new Error(`seq gap: position ${i} has seq ${r.seq}`);
  });
  if (new Set(rows.map((r) => r.id)).size !== rows.length) throw new Error("duplicate event ids");
  return rows.map((r) => r.type);
}
