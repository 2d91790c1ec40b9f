/**
 * The sandbox-manager's metrics: sandboxes on this instance by state (read at scrape time) and
 * how long provisioning takes (egress registration, sandbox start, repository clones, hand up).
 */
import { createMetrics, type Histogram, type Metrics } from "@tendon/observability";

export type SandboxState = "starting" | "ready" | "dead";

export interface SandboxManagerMetrics {
  readonly metrics: Metrics;
  readonly provisionDuration: Histogram<"outcome">;
  /** Counts sandboxes by state at scrape time; call once, from the manager. */
  watchSandboxes(count: () => Record<SandboxState, number>): void;
}

export function createSandboxManagerMetrics(
  metrics: Metrics = createMetrics({ service: "sandbox-manager" }),
): SandboxManagerMetrics {
  return {
    metrics,
    provisionDuration: metrics.histogram({
      name: "tendon_sandbox_provision_duration_seconds",
      help: "Time to provision a sandbox, by outcome (ok, error)",
      labelNames: ["outcome"],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120],
    }),
    watchSandboxes(count) {
      metrics.gauge({
        name: "tendon_sandboxes",
        help: "Sandboxes on this instance by state (starting, ready, dead)",
        labelNames: ["state"],
        collect() {
          for (const [state, n] of Object.entries(count())) this.set({ state }, n);
        },
      });
    },
  };
}
