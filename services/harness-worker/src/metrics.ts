/**
 * The harness worker's metrics, created once per process and passed down as a port
 * (`deps.metrics`). Label values come from closed sets only (outcomes, error types), never ids.
 *
 * The wake-queue gauges describe the one consumer every worker shares: each worker exports the
 * same numbers (read at scrape time from the consumer's info), so aggregate them with max(), not
 * sum(). `tendon_wake_queue_depth` is what a HorizontalPodAutoscaler scales on.
 */
import type { Bus } from "@tendon/bus";
import { type Counter, createMetrics, type Gauge, type Histogram, type Metrics } from "@tendon/observability";
import { type Logger, serializeError } from "@tendon/runtime";

export interface HarnessMetrics {
  readonly metrics: Metrics;
  readonly turnsInFlight: Gauge;
  readonly turnDuration: Histogram<"outcome">;
  readonly timeToFirstToken: Histogram;
  readonly modelRequests: Counter<"outcome">;
  readonly modelErrors: Counter<"type">;
  readonly wakeRedeliveries: Counter;
  readonly wakesHandled: Counter<"result">;
  /** Reads the wake queue at scrape time (no-op until called). */
  watchWakeQueue(bus: Bus, log: Logger): void;
}

const TTFT_BUCKETS = [0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 30, 60];

export function createHarnessMetrics(
  metrics: Metrics = createMetrics({ service: "harness-worker" }),
): HarnessMetrics {
  let bus: Bus | undefined;
  let log: Logger | undefined;
  let last = { pending: 0, oldestPendingAgeMs: 0 };
  let reading: Promise<void> | undefined;
  // One consumer-info read serves both gauges of a scrape.
  const read = () => {
    reading ??= (async () => {
      if (!bus) return;
      try {
        last = await bus.wakeQueueStats();
      } catch (err) {
        log?.debug("wake queue stats unavailable", { err: serializeError(err) });
      }
    })().finally(() => {
      reading = undefined;
    });
    return reading;
  };

  return {
    metrics,
    turnsInFlight: metrics.gauge({
      name: "tendon_turns_in_flight",
      help: "Sessions this worker is driving right now (model calls, tool calls, appends)",
    }),
    turnDuration: metrics.histogram({
      name: "tendon_turn_duration_seconds",
      help: "How long a worker drove a session per wake-up, from lease to done (outcome: done, fenced, handed_back, failed)",
      labelNames: ["outcome"],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800],
    }),
    timeToFirstToken: metrics.histogram({
      name: "tendon_model_time_to_first_token_seconds",
      help: "From sending a model request to the first streamed content block",
      buckets: TTFT_BUCKETS,
    }),
    modelRequests: metrics.counter({
      name: "tendon_model_requests_total",
      help: "Model requests by outcome (ok, error, interrupted)",
      labelNames: ["outcome"],
    }),
    modelErrors: metrics.counter({
      name: "tendon_model_errors_total",
      help: "Failed model requests by session.error type (model_overloaded_error, model_rate_limited_error, model_request_failed_error)",
      labelNames: ["type"],
    }),
    wakeRedeliveries: metrics.counter({
      name: "tendon_wake_redeliveries_total",
      help: "Wake-ups this worker received again (delivery count > 1: a worker died, paused or nak'd)",
    }),
    wakesHandled: metrics.counter({
      name: "tendon_wakes_total",
      help: "Wake-ups this worker took, by result (driven, already_driving, lease_held, retry, gave_up)",
      labelNames: ["result"],
    }),
    watchWakeQueue(b, l) {
      bus = b;
      log = l;
      metrics.gauge({
        name: "tendon_wake_queue_depth",
        help: "Wake-ups waiting for a harness worker (shared queue; same value on every worker: use max())",
        async collect() {
          await read();
          this.set(last.pending);
        },
      });
      metrics.gauge({
        name: "tendon_wake_queue_oldest_age_seconds",
        help: "Age of the oldest wake-up no worker has taken yet; 0 when none waits",
        async collect() {
          await read();
          this.set(last.oldestPendingAgeMs / 1000);
        },
      });
    },
  };
}
