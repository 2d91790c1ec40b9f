/**
 * The OpenTelemetry SDK, set up from `TracingOptions`: an AsyncLocalStorage context manager, the
 * W3C propagators, a tracer provider with the configured sampler and one batching OTLP/HTTP
 * exporter. Imported only by `startTracing` when tracing is enabled, so a service without an
 * endpoint never loads any of it.
 */
import { context, DiagLogLevel, diag, propagation, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPTraceExporter as JsonExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { OTLPTraceExporter as ProtobufExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { defaultResource, resourceFromAttributes } from "@opentelemetry/resources";
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  type Sampler,
  TraceIdRatioBasedSampler,
  TracerProvider,
} from "@opentelemetry/sdk-trace";
import { ATTR_SERVICE_NAME } from "@opentelemetry/semantic-conventions";
import type { Logger } from "@tendon/runtime";
import type { TracingOptions } from "./env.js";
import type { Tracing } from "./start.js";

function sampler(opts: TracingOptions): Sampler {
  const ratio = () => new TraceIdRatioBasedSampler(opts.samplerRatio);
  switch (opts.sampler) {
    case "always_on":
      return new AlwaysOnSampler();
    case "always_off":
      return new AlwaysOffSampler();
    case "traceidratio":
      return ratio();
    case "parentbased_always_off":
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case "parentbased_traceidratio":
      return new ParentBasedSampler({ root: ratio() });
    case "parentbased_always_on":
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
  }
}

/** The endpoint without credentials or query, for the log. */
function redactUrl(url: string): string {
  const u = new URL(url);
  return `${u.protocol}//${u.host}${u.pathname}`;
}

export function startSdk(opts: TracingOptions & { instanceId: string }, log: Logger): Tracing {
  // The SDK's own problems (an unreachable collector, a rejected export) go to our log as warnings.
  diag.setLogger(
    {
      error: (msg, ...args) => log.warn(`otel: ${msg}`, args.length ? { args: args.map(String) } : undefined),
      warn: (msg, ...args) => log.warn(`otel: ${msg}`, args.length ? { args: args.map(String) } : undefined),
      info: () => {},
      debug: () => {},
      verbose: () => {},
    },
    { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true },
  );
  const contextManager = new AsyncLocalStorageContextManager();
  contextManager.enable();
  context.setGlobalContextManager(contextManager);
  const propagators = [
    ...(opts.propagators.includes("tracecontext") ? [new W3CTraceContextPropagator()] : []),
    ...(opts.propagators.includes("baggage") ? [new W3CBaggagePropagator()] : []),
  ];
  propagation.setGlobalPropagator(new CompositePropagator({ propagators }));

  const exporter =
    opts.protocol === "http/json"
      ? new JsonExporter({ url: opts.url })
      : new ProtobufExporter({ url: opts.url });
  const provider = new TracerProvider({
    resource: defaultResource().merge(
      resourceFromAttributes({
        "service.namespace": "tendon",
        "service.instance.id": opts.instanceId,
        ...opts.resourceAttributes,
        [ATTR_SERVICE_NAME]: opts.serviceName,
      }),
    ),
    sampler: sampler(opts),
    spanProcessors: [new BatchSpanProcessor({ exporter, ...opts.batch })],
  });
  trace.setGlobalTracerProvider(provider);
  log.info("tracing on", {
    service_name: opts.serviceName,
    endpoint: opts.url ? redactUrl(opts.url) : undefined,
    protocol: opts.protocol,
    sampler: opts.sampler,
  });

  let stopped: Promise<void> | undefined;
  return {
    enabled: true,
    flush: () => provider.forceFlush(),
    shutdown: () => {
      stopped ??= provider.shutdown().catch((err: unknown) => {
        log.warn("otel: shutdown failed", { err: String(err) });
      });
      return stopped;
    },
  };
}
