/**
 * The tracing part of every service's configuration: the standard OpenTelemetry `OTEL_*`
 * variables, defined once. Each service's config.ts extends its schema with `TracingEnv.shape`;
 * `tracingOptions` turns the parsed values into what `startTracing` needs.
 *
 * Tracing is on only when an OTLP endpoint is set (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or
 * `OTEL_EXPORTER_OTLP_ENDPOINT`), `OTEL_SDK_DISABLED` is not "true" and `OTEL_TRACES_EXPORTER` is
 * not "none". Otherwise no SDK is loaded and every span is the API's no-op.
 *
 * The OTLP exporter itself also reads `OTEL_EXPORTER_OTLP_[TRACES_]HEADERS`, `_TIMEOUT`,
 * `_COMPRESSION` and the certificate variables, as the specification describes.
 */
import { z } from "zod";

/** Unset and empty are the same (`FOO=` in a compose file). */
const blankIsUnset = (v: unknown) => (typeof v === "string" && v.trim() === "" ? undefined : v);

const Url = z.preprocess(blankIsUnset, z.url({ protocol: /^https?$/ }).optional());

const Protocol = z.preprocess(
  blankIsUnset,
  z
    .enum(["http/protobuf", "http/json", "grpc"])
    .optional()
    .refine((p) => p !== "grpc", "grpc is not supported here; use http/protobuf or http/json (port 4318)"),
);

const Samplers = [
  "always_on",
  "always_off",
  "traceidratio",
  "parentbased_always_on",
  "parentbased_always_off",
  "parentbased_traceidratio",
] as const;

const Millis = (dflt: number) => z.preprocess(blankIsUnset, z.coerce.number().int().min(0).default(dflt));

export const TracingEnv = z.object({
  OTEL_SDK_DISABLED: z.preprocess(blankIsUnset, z.string().optional()),
  OTEL_SERVICE_NAME: z.preprocess(blankIsUnset, z.string().optional()),
  OTEL_RESOURCE_ATTRIBUTES: z.preprocess(blankIsUnset, z.string().optional()),
  OTEL_TRACES_EXPORTER: z.preprocess(blankIsUnset, z.enum(["otlp", "none"]).default("otlp")),
  OTEL_EXPORTER_OTLP_ENDPOINT: Url,
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: Url,
  OTEL_EXPORTER_OTLP_PROTOCOL: Protocol,
  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: Protocol,
  OTEL_TRACES_SAMPLER: z.preprocess(blankIsUnset, z.enum(Samplers).default("parentbased_always_on")),
  OTEL_TRACES_SAMPLER_ARG: z.preprocess(blankIsUnset, z.coerce.number().min(0).max(1).optional()),
  OTEL_PROPAGATORS: z.preprocess(
    blankIsUnset,
    z
      .string()
      .default("tracecontext,baggage")
      .transform((s) => s.split(",").map((p) => p.trim().toLowerCase()))
      .pipe(z.array(z.enum(["tracecontext", "baggage", "none"]))),
  ),
  OTEL_BSP_SCHEDULE_DELAY: Millis(5_000),
  OTEL_BSP_EXPORT_TIMEOUT: Millis(30_000),
  OTEL_BSP_MAX_QUEUE_SIZE: z.preprocess(blankIsUnset, z.coerce.number().int().min(1).default(2048)),
  OTEL_BSP_MAX_EXPORT_BATCH_SIZE: z.preprocess(blankIsUnset, z.coerce.number().int().min(1).default(512)),
});
export type TracingEnv = z.infer<typeof TracingEnv>;

export type Sampler = (typeof Samplers)[number];

export interface TracingOptions {
  /** False: no SDK, no exporter, no-op spans. */
  enabled: boolean;
  /** Why it is off, for the start-up log line. */
  disabledBecause?: string;
  /** `service.name` (OTEL_SERVICE_NAME, else `tendon-<service>`). */
  serviceName: string;
  /** Full URL spans are POSTed to (`.../v1/traces`). */
  url?: string;
  protocol: "http/protobuf" | "http/json";
  sampler: Sampler;
  samplerRatio: number;
  propagators: ("tracecontext" | "baggage")[];
  resourceAttributes: Record<string, string>;
  batch: {
    scheduledDelayMillis: number;
    exportTimeoutMillis: number;
    maxQueueSize: number;
    maxExportBatchSize: number;
  };
}

/** `key=value,key2=value2`, percent-decoded, as OTEL_RESOURCE_ATTRIBUTES is written. */
export function parseResourceAttributes(raw: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (raw ?? "").split(",")) {
    const eq = part.indexOf("=");
    if (eq <= 0) continue;
    try {
      out[decodeURIComponent(part.slice(0, eq).trim())] = decodeURIComponent(part.slice(eq + 1).trim());
    } catch {
      // A malformed escape: the attribute is skipped, as the specification allows.
    }
  }
  return out;
}

/** The signal-specific endpoint is used as given; the general one gets `/v1/traces` appended. */
export function tracesUrl(env: TracingEnv): string | undefined {
  if (env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) return env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT;
  if (!base) return undefined;
  return `${base.replace(/\/+$/, "")}/v1/traces`;
}

export function tracingOptions(env: TracingEnv, service: string): TracingOptions {
  const url = tracesUrl(env);
  const disabledBecause =
    env.OTEL_SDK_DISABLED?.trim().toLowerCase() === "true"
      ? "OTEL_SDK_DISABLED=true"
      : env.OTEL_TRACES_EXPORTER === "none"
        ? "OTEL_TRACES_EXPORTER=none"
        : url === undefined
          ? "no OTLP endpoint (OTEL_EXPORTER_OTLP_ENDPOINT)"
          : undefined;
  return {
    enabled: disabledBecause === undefined,
    ...(disabledBecause ? { disabledBecause } : {}),
    serviceName: env.OTEL_SERVICE_NAME ?? `tendon-${service}`,
    ...(url ? { url } : {}),
    protocol: (env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ??
      env.OTEL_EXPORTER_OTLP_PROTOCOL ??
      "http/protobuf") as TracingOptions["protocol"],
    sampler: env.OTEL_TRACES_SAMPLER,
    samplerRatio: env.OTEL_TRACES_SAMPLER_ARG ?? 1,
    propagators: env.OTEL_PROPAGATORS.filter((p) => p !== "none") as TracingOptions["propagators"],
    resourceAttributes: parseResourceAttributes(env.OTEL_RESOURCE_ATTRIBUTES),
    batch: {
      scheduledDelayMillis: env.OTEL_BSP_SCHEDULE_DELAY,
      exportTimeoutMillis: env.OTEL_BSP_EXPORT_TIMEOUT,
      maxQueueSize: env.OTEL_BSP_MAX_QUEUE_SIZE,
      maxExportBatchSize: Math.min(env.OTEL_BSP_MAX_EXPORT_BATCH_SIZE, env.OTEL_BSP_MAX_QUEUE_SIZE),
    },
  };
}
