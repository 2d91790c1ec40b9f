/**
 * `startTracing`: called once in a service's composition root, before anything creates spans.
 *
 * Invariants:
 * - Disabled (no endpoint, OTEL_SDK_DISABLED, OTEL_TRACES_EXPORTER=none): the SDK is not even
 *   imported; the OpenTelemetry API stays a no-op (no context manager, no propagator, no exporter),
 *   so spans cost a function call and nothing is added to NATS or HTTP headers.
 * - `shutdown()` flushes the spans still buffered; call it last in the graceful stop.
 */
import type { Logger } from "@tendon/runtime";
import type { TracingOptions } from "./env.js";

export interface Tracing {
  readonly enabled: boolean;
  /** Exports every ended span now. */
  flush(): Promise<void>;
  /** Flushes and stops exporting; safe to call more than once. */
  shutdown(): Promise<void>;
}

const disabled: Tracing = {
  enabled: false,
  flush: async () => {},
  shutdown: async () => {},
};

export async function startTracing(
  opts: TracingOptions & { /** `service.instance.id`; defaults to the pid. */ instanceId?: string },
  log: Logger,
): Promise<Tracing> {
  if (!opts.enabled) {
    log.debug("tracing off", { reason: opts.disabledBecause });
    return disabled;
  }
  const { startSdk } = await import("./sdk.js");
  return startSdk({ ...opts, instanceId: opts.instanceId ?? `${opts.serviceName}-${process.pid}` }, log);
}
