import { Writable } from "node:stream";
import { context, propagation, ROOT_CONTEXT, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { createLogger, silentLogger } from "@tendon/runtime";
import { afterEach, describe, expect, it } from "vitest";
import { TracingEnv, tracingOptions } from "./env.js";
import { startTracing } from "./start.js";

const opts = (env: Record<string, string>) => tracingOptions(TracingEnv.parse(env), "gateway");

describe("tracingOptions", () => {
  it("is off without an endpoint, with OTEL_SDK_DISABLED or with OTEL_TRACES_EXPORTER=none", () => {
    expect(opts({})).toMatchObject({ enabled: false, disabledBecause: expect.stringContaining("endpoint") });
    expect(opts({ OTEL_EXPORTER_OTLP_ENDPOINT: "" }).enabled).toBe(false);
    const url = { OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318" };
    expect(opts(url).enabled).toBe(true);
    expect(opts({ ...url, OTEL_SDK_DISABLED: "TRUE" }).enabled).toBe(false);
    expect(opts({ ...url, OTEL_TRACES_EXPORTER: "none" }).enabled).toBe(false);
  });

  it("appends /v1/traces to the general endpoint and takes the traces endpoint as given", () => {
    expect(opts({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318/" }).url).toBe("http://c:4318/v1/traces");
    expect(
      opts({
        OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318",
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://t:9999/custom",
      }).url,
    ).toBe("http://t:9999/custom");
  });

  it("defaults as the specification does, names the service, and parses resource attributes", () => {
    const o = opts({
      OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318",
      OTEL_RESOURCE_ATTRIBUTES: "deployment.environment=prod,team=a%2Cb",
    });
    expect(o).toMatchObject({
      serviceName: "tendon-gateway",
      protocol: "http/protobuf",
      sampler: "parentbased_always_on",
      propagators: ["tracecontext", "baggage"],
      resourceAttributes: { "deployment.environment": "prod", team: "a,b" },
    });
    expect(opts({ OTEL_SERVICE_NAME: "edge" }).serviceName).toBe("edge");
    expect(opts({ OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "http/json" }).protocol).toBe("http/json");
  });

  it("refuses what it cannot honour", () => {
    expect(() => opts({ OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" })).toThrow(/grpc is not supported/);
    expect(() => opts({ OTEL_TRACES_SAMPLER: "jaeger_remote" })).toThrow();
    expect(() => opts({ OTEL_TRACES_SAMPLER_ARG: "2" })).toThrow();
    expect(() => opts({ OTEL_EXPORTER_OTLP_ENDPOINT: "collector:4318" })).toThrow();
  });
});

describe("startTracing", () => {
  it("without an endpoint registers nothing: no propagator writes headers", async () => {
    const t = await startTracing(opts({}), silentLogger);
    expect(t.enabled).toBe(false);
    const carrier: Record<string, string> = {};
    const span = trace.wrapSpanContext({ traceId: "a".repeat(32), spanId: "b".repeat(16), traceFlags: 1 });
    propagation.inject(trace.setSpan(ROOT_CONTEXT, span), carrier);
    expect(carrier).toEqual({});
    await t.shutdown();
  });
});

describe("log lines", () => {
  const manager = new AsyncLocalStorageContextManager();
  afterEach(() => {
    context.disable();
  });

  it("carry trace_id and span_id inside an active span, and nothing outside one", () => {
    context.setGlobalContextManager(manager.enable());
    const lines: Record<string, unknown>[] = [];
    const destination = new Writable({
      write(chunk, _enc, done) {
        lines.push(JSON.parse(String(chunk)));
        done();
      },
    });
    const log = createLogger({ service: "test", destination });
    const span = trace.wrapSpanContext({ traceId: "1".repeat(32), spanId: "2".repeat(16), traceFlags: 1 });
    context.with(trace.setSpan(ROOT_CONTEXT, span), () => log.child({ session_id: "s" }).info("inside"));
    log.info("outside");
    expect(lines[0]).toMatchObject({ msg: "inside", trace_id: "1".repeat(32), span_id: "2".repeat(16) });
    expect(lines[1]).not.toHaveProperty("trace_id");
  });
});
