/**
 * Metrics for bus endpoints a service serves (session-log, credential-proxy): one observer that
 * counts handled requests by endpoint and outcome and times them. It has the shape of the bus's
 * `RpcObserver`, so it plugs into `createRegistrar({ observer })` next to the wide-event logger.
 */
import type { Metrics } from "./metrics.js";

export interface HandledInfo {
  op: string;
  ok: boolean;
  durationMs: number;
  error?: { code: string };
}

export interface HandledObserver {
  onHandled?(info: HandledInfo): void;
}

/** `tendon_rpc_requests_total{op,code}` and `tendon_rpc_request_duration_seconds{op}`. */
export function rpcMetricsObserver(metrics: Metrics): HandledObserver {
  const requests = metrics.counter({
    name: "tendon_rpc_requests_total",
    help: "Bus requests this service handled, by endpoint and outcome (ok or the error code)",
    labelNames: ["op", "code"],
  });
  const duration = metrics.histogram({
    name: "tendon_rpc_request_duration_seconds",
    help: "Time to handle a bus request, by endpoint",
    labelNames: ["op"],
  });
  return {
    onHandled({ op, ok, durationMs, error }) {
      requests.inc({ op, code: ok ? "ok" : (error?.code ?? "internal") });
      duration.observe({ op }, durationMs / 1000);
    },
  };
}

/** Calls every observer in order; one that throws does not stop the others. */
export function combineObservers<T extends HandledInfo>(
  ...observers: Array<{ onHandled?(info: T): void }>
): { onHandled(info: T): void } {
  return {
    onHandled(info) {
      for (const o of observers) {
        try {
          o.onHandled?.(info);
        } catch {
          // Observers are telemetry (policy: a failing one never fails the request or the others).
        }
      }
    },
  };
}
