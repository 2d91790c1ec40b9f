/**
 * The gateway's metrics: every HTTP request by route template (never the raw path, which holds
 * ids), method and status, with its latency. SSE streams count once, when they end.
 */
import { type Counter, createMetrics, type Histogram, type Metrics } from "@tendon/observability";

type HttpLabels = "method" | "route" | "status";

export interface GatewayMetrics {
  readonly metrics: Metrics;
  readonly httpRequests: Counter<HttpLabels>;
  readonly httpDuration: Histogram<HttpLabels>;
  /** Records one finished request; `route` is the matched template or undefined (no route). */
  request(method: string, route: string | undefined, status: number, seconds: number): void;
}

const METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);

export function createGatewayMetrics(
  metrics: Metrics = createMetrics({ service: "gateway" }),
): GatewayMetrics {
  const httpRequests = metrics.counter({
    name: "tendon_http_requests_total",
    help: "HTTP requests answered, by method, route template and status",
    labelNames: ["method", "route", "status"],
  });
  const httpDuration = metrics.histogram({
    name: "tendon_http_request_duration_seconds",
    help: "HTTP request latency (SSE streams: their whole life), by method, route template and status",
    labelNames: ["method", "route", "status"],
  });
  return {
    metrics,
    httpRequests,
    httpDuration,
    request(method, route, status, seconds) {
      const labels = {
        method: METHODS.has(method) ? method : "other",
        route: route ?? "unmatched",
        status: String(status),
      };
      httpRequests.inc(labels);
      httpDuration.observe(labels, seconds);
    },
  };
}
