export type { Sampler, TracingOptions } from "./env.js";
export { parseResourceAttributes, TracingEnv, tracesUrl, tracingOptions } from "./env.js";
export type { Attributes, Span, SpanOptions, Tracer } from "./spans.js";
export {
  nameHttpSpan,
  recordError,
  SpanKind,
  SpanStatusCode,
  traceHttpServer,
  tracer,
  withSpan,
} from "./spans.js";
export type { Tracing } from "./start.js";
export { startTracing } from "./start.js";
