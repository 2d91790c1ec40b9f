/**
 * Graceful shutdown: the first SIGTERM/SIGINT runs `stop` once (bounded by a deadline), then exits;
 * a second signal exits at once.
 */
import type { Logger } from "./logger.js";
import { serializeError } from "./logger.js";

export function handleShutdown(stop: () => Promise<void>, opts: { log: Logger; timeoutMs?: number }): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      opts.log.warn("second signal, exiting now", { signal });
      process.exit(1);
    }
    stopping = true;
    opts.log.info("shutting down", { signal });
    const deadline = setTimeout(() => {
      opts.log.error("shutdown deadline passed, exiting", { timeout_ms: opts.timeoutMs ?? 15_000 });
      process.exit(1);
    }, opts.timeoutMs ?? 15_000);
    deadline.unref();
    stop().then(
      () => {
        opts.log.info("stopped");
        process.exit(0);
      },
      (e: unknown) => {
        opts.log.error("shutdown failed", { err: serializeError(e) });
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
}

/**
 * Announces readiness on stdout whatever the log level: one JSON line with `"event":"ready"` that
 * supervisors (tendon dev, tests) wait for.
 */
export function announceReady(service: string, fields: Record<string, unknown> = {}): void {
  process.stdout.write(
    `${JSON.stringify({ event: "ready", service, pid: process.pid, time: new Date().toISOString(), ...fields })}\n`,
  );
}
