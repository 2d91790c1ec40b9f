/**
 * The session-log's metrics, created once per process and handed to every handler through the
 * context (`ctx.metrics`). No label carries a session id.
 */
import {
  type Counter,
  createMetrics,
  type HandledObserver,
  type Metrics,
  rpcMetricsObserver,
} from "@tendon/observability";

export interface SessionLogMetrics {
  readonly metrics: Metrics;
  /** Events committed to session logs; `rate()` of it is appends per second. */
  readonly eventsAppended: Counter;
  /** Lease grants by kind: fresh (no holder), renewed (same worker), takeover (another worker's lapsed lease). */
  readonly leaseAcquisitions: Counter<"kind">;
  readonly leaseTakeovers: Counter;
  /** Wake-ups the sweeper sent for sessions without a live harness. */
  readonly sweeperRewakes: Counter;
  /** For the registrar: bus requests by endpoint and outcome, with latency. */
  readonly rpc: HandledObserver;
}

export function createSessionLogMetrics(
  metrics: Metrics = createMetrics({ service: "session-log" }),
): SessionLogMetrics {
  return {
    metrics,
    eventsAppended: metrics.counter({
      name: "tendon_events_appended_total",
      help: "Events appended to session logs (committed); rate() gives appends per second",
    }),
    leaseAcquisitions: metrics.counter({
      name: "tendon_lease_acquisitions_total",
      help: "Session leases granted to harness workers, by kind (fresh, renewed, takeover)",
      labelNames: ["kind"],
    }),
    leaseTakeovers: metrics.counter({
      name: "tendon_lease_takeovers_total",
      help: "Session leases taken from another worker whose liveness had lapsed (it died, paused or lost NATS)",
    }),
    sweeperRewakes: metrics.counter({
      name: "tendon_sweeper_rewakes_total",
      help: "Wake-ups the sweeper sent for running sessions without a live harness",
    }),
    rpc: rpcMetricsObserver(metrics),
  };
}
