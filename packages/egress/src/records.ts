/**
 * Egress records: one per proxied request, per blocked attempt, and per CONNECT tunnel whose TLS
 * the proxy does not terminate.
 *
 * Invariants:
 * - A record carries the target's host and port, the method, status, byte counts and the ids of
 *   credentials written into the request; never a path, query string, header, body or secret.
 * - Byte counts are what the sandbox sent and received (request/response bodies for HTTP
 *   requests, raw bytes each way for tunnels), so they do not reveal a secret's length.
 * - Each RecordBuilder emits at most once; a throwing `onRecord` is logged and never breaks a
 *   connection.
 */
import type { EgressIdentity } from "./identity.js";

export interface EgressRecord {
  at: string;
  sessionId: string;
  sandboxId: string;
  method: string;
  scheme: "http" | "https";
  host: string;
  port: number;
  status: number | null;
  bytesOut: number;
  bytesIn: number;
  credentialIds: string[];
  blocked: boolean;
  reason?: string;
  durationMs: number;
}

export type LogFn = (
  level: "debug" | "info" | "warn" | "error",
  msg: string,
  fields?: Record<string, unknown>,
) => void;

export class RecordBuilder {
  private readonly started = performance.now();
  private readonly at = new Date().toISOString();
  private done = false;
  readonly credentialIds = new Set<string>();
  bytesOut = 0;
  bytesIn = 0;
  status: number | null = null;
  reasons: string[] = [];

  constructor(
    private readonly sink: (r: EgressRecord) => void,
    private readonly log: LogFn,
    readonly id: EgressIdentity,
    readonly method: string,
    readonly scheme: "http" | "https",
    readonly host: string,
    readonly port: number,
  ) {}

  get finished(): boolean {
    return this.done;
  }

  /** Emits the record (once). */
  finish(opts: { status?: number | null; blocked?: boolean; reason?: string } = {}): void {
    if (this.done) return;
    this.done = true;
    if (opts.status !== undefined) this.status = opts.status;
    if (opts.reason) this.reasons.push(opts.reason);
    const r: EgressRecord = {
      at: this.at,
      sessionId: this.id.sessionId,
      sandboxId: this.id.sandboxId,
      method: this.method,
      scheme: this.scheme,
      host: this.host,
      port: this.port,
      status: this.status,
      bytesOut: this.bytesOut,
      bytesIn: this.bytesIn,
      credentialIds: [...this.credentialIds],
      blocked: opts.blocked ?? false,
      durationMs: Math.round(performance.now() - this.started),
    };
    if (this.reasons.length > 0) r.reason = this.reasons.join("; ");
    try {
      this.sink(r);
    } catch (err) {
      this.log("warn", "egress onRecord threw", { error: err instanceof Error ? err.name : typeof err });
    }
  }
}
