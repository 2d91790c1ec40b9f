/**
 * The credential-proxy's metrics: its bus endpoints (vaults, MCP proxy, egress registration,
 * repository tokens) by endpoint and outcome with latency, and sandbox egress requests by
 * decision. Hosts, sessions and credential ids never become labels.
 */
import {
  type Counter,
  createMetrics,
  type HandledObserver,
  type Metrics,
  rpcMetricsObserver,
} from "@tendon/observability";

export interface CredentialProxyMetrics {
  readonly metrics: Metrics;
  readonly rpc: HandledObserver;
  /** decision: allowed | blocked; credential: injected | none. */
  readonly egressRequests: Counter<"decision" | "credential">;
}

export function createCredentialProxyMetrics(
  metrics: Metrics = createMetrics({ service: "credential-proxy" }),
): CredentialProxyMetrics {
  return {
    metrics,
    rpc: rpcMetricsObserver(metrics),
    egressRequests: metrics.counter({
      name: "tendon_egress_requests_total",
      help: "Sandbox egress requests through the proxy, by decision (allowed, blocked) and whether a credential was injected",
      labelNames: ["decision", "credential"],
    }),
  };
}
