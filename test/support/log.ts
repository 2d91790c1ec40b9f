/**
 * Read-only views of a stack's database for assertions about the log itself (seq, leases),
 * which the public API does not expose. Never used to drive the system.
 */
import type { ManagedProcess } from "@tendon/testing";
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

/** Asserts the log's seqs are exactly 1..n and ids unique; returns the types in order. */
export function checkLogShape(rows: LoggedRow[]): string[] {
  rows.forEach((r, i) => {
    if (r.seq !== i + 1) throw new Error(`seq gap: position ${i} has seq ${r.seq}`);
  });
  if (new Set(rows.map((r) => r.id)).size !== rows.length) throw new Error("duplicate event ids");
  return rows.map((r) => r.type);
}
