/**
 * Connecting to NATS: reconnect forever, report status changes through a callback (libraries
 * never log themselves; the service decides what to log).
 */
import { connect, type NatsConnection } from "@nats-io/transport-node";

export interface ConnectOptions {
  servers: string | string[];
  /** Client name shown in NATS monitoring, e.g. `session-log-<pid>`. */
  name: string;
  user?: string;
  pass?: string;
  token?: string;
  /**
   * Where this connection's replies arrive (`<prefix>.<random>`). Each NATS role gets its own
   * (`_INBOX.<role>`) and may subscribe only there, so no user can read another role's replies.
   * Default `_INBOX`.
   */
  inboxPrefix?: string;
  /** Status changes: disconnect, reconnect, errors. */
  onStatus?: (status: { type: string; data?: unknown }) => void;
}

export async function connectNats(opts: ConnectOptions): Promise<NatsConnection> {
  const nc = await connect({
    servers: opts.servers,
    name: opts.name,
    ...(opts.user ? { user: opts.user, pass: opts.pass } : {}),
    ...(opts.token ? { token: opts.token } : {}),
    ...(opts.inboxPrefix ? { inboxPrefix: opts.inboxPrefix } : {}),
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    reconnectJitter: 100,
    waitOnFirstConnect: true,
    pingInterval: 10_000,
  });
  if (opts.onStatus) {
    const onStatus = opts.onStatus;
    void (async () => {
      for await (const s of nc.status()) {
        onStatus({ type: s.type, data: "data" in s ? s.data : undefined });
      }
    })().catch(() => {
      // status iterator ends when the connection closes; nothing to report (policy: ignore).
    });
  }
  return nc;
}
