/**
 * Prometheus metrics for one service: a registry of its own (never prom-client's global one) with
 * `service` as a default label, and factories for the three metric kinds services use.
 *
 * Invariants:
 * - Every metric name starts with `tendon_` (checked here), so a scrape config can keep them apart
 *   from the `process_*` / `nodejs_*` defaults.
 * - Labels are low-cardinality by construction: callers declare label names up front; values must
 *   be from closed sets (routes, error types, states), never session or request ids.
 * - A service creates its metric set once and passes it down as a dependency (a port), so tests
 *   build their own registry and read it.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

export type { Counter, Gauge, Histogram, Registry };

interface MetricOptions<L extends string> {
  name: string;
  help: string;
  labelNames?: readonly L[];
}

export interface Metrics {
  readonly service: string;
  readonly registry: Registry;
  counter<L extends string = never>(opts: MetricOptions<L>): Counter<L>;
  /** `collect` runs at scrape time (e.g. reads a queue's depth) and sets the gauge. */
  gauge<L extends string = never>(
    opts: MetricOptions<L> & { collect?: (this: Gauge<L>) => void | Promise<void> },
  ): Gauge<L>;
  histogram<L extends string = never>(opts: MetricOptions<L> & { buckets?: number[] }): Histogram<L>;
  /** Adds prom-client's default process and Node.js metrics (idempotent). */
  collectProcessMetrics(): void;
  /** The Prometheus text exposition of everything registered. */
  text(): Promise<string>;
  readonly contentType: string;
}

/** Latency buckets in seconds, from a few milliseconds to ten minutes. */
export const LATENCY_BUCKETS_SECONDS = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600,
];

function checkName(name: string): string {
  if (!/^tendon_[a-z0-9_]+$/.test(name)) {
    throw new Error(`metric name ${name} must match tendon_[a-z0-9_]+`);
  }
  return name;
}

export function createMetrics(opts: { service: string }): Metrics {
  const registry = new Registry();
  registry.setDefaultLabels({ service: opts.service });
  let processMetrics = false;
  return {
    service: opts.service,
    registry,
    counter: (o) =>
      new Counter({
        name: checkName(o.name),
        help: o.help,
        labelNames: o.labelNames ?? [],
        registers: [registry],
      }),
    gauge: (o) =>
      new Gauge({
        name: checkName(o.name),
        help: o.help,
        labelNames: o.labelNames ?? [],
        registers: [registry],
        ...(o.collect ? { collect: o.collect } : {}),
      }),
    histogram: (o) =>
      new Histogram({
        name: checkName(o.name),
        help: o.help,
        labelNames: o.labelNames ?? [],
        buckets: o.buckets ?? LATENCY_BUCKETS_SECONDS,
        registers: [registry],
      }),
    collectProcessMetrics() {
      if (processMetrics) return;
      processMetrics = true;
      collectDefaultMetrics({ register: registry });
    },
    text: () => registry.metrics(),
    get contentType() {
      return registry.contentType;
    },
  };
}
