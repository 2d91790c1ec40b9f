/**
 * Structured JSON logs (pino), injected everywhere as a `Logger` port.
 *
 * Invariants:
 * - Logging never throws into the caller.
 * - Secret-bearing fields are redacted by path before a line is written; values that look like
 *   Tendon or Anthropic keys are masked wherever they appear in strings.
 * - Every line carries `service`; children add `session_id`, ... as fields. A line written while an
 *   OpenTelemetry span is active carries its `trace_id` and `span_id` (nothing when tracing is off).
 */
import { trace } from "@opentelemetry/api";
import { type DestinationStream, type Logger as PinoLogger, pino } from "pino";

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";

export interface LoggerOptions {
  service: string;
  level?: LogLevel;
  /** Where lines go; defaults to stdout. Tests pass a collecting stream. */
  destination?: DestinationStream;
}

/** Field names whose values are never written, at any depth we know to look. */
const SECRET_KEYS = [
  "authorization",
  "x-api-key",
  "api_key",
  "apiKey",
  "key",
  "token",
  "secret",
  "password",
  "access_token",
  "refresh_token",
  "client_secret",
  "secret_value",
  "sessions_token",
  "authorization_token",
];

const REDACT_PATHS = SECRET_KEYS.flatMap((k) => {
  const p = /^[A-Za-z_$][\w$]*$/.test(k) ? k : `["${k}"]`;
  const dot = p.startsWith("[") ? p : `.${p}`;
  return [p, `*${dot}`, `*.*${dot}`, `headers${dot}`, `req.headers${dot}`];
});

/** Masks anything shaped like a bearer secret that slipped into free text. */
const SECRET_PATTERN = /\bsk-(?:ant|tnd)-[A-Za-z0-9_-]{3,}/g;

export function maskSecrets(text: string): string {
  return text.replace(SECRET_PATTERN, (m) => `${m.slice(0, 8)}…[redacted]`);
}

/** The active span's ids, for pino's mixin (a fresh object: pino merges the line into it). */
function traceFields(): LogFields {
  const sc = trace.getActiveSpan()?.spanContext();
  if (!sc || !trace.isSpanContextValid(sc)) return {};
  return { trace_id: sc.traceId, span_id: sc.spanId };
}

function wrap(p: PinoLogger): Logger {
  const emit =
    (level: "debug" | "info" | "warn" | "error") =>
    (msg: string, fields?: LogFields): void => {
      try {
        if (fields) p[level](fields, maskSecrets(msg));
        else p[level](maskSecrets(msg));
      } catch {
        // Logging never throws into the caller (policy: a failed log line is dropped).
      }
    };
  return {
    debug: emit("debug"),
    info: emit("info"),
    warn: emit("warn"),
    error: emit("error"),
    child: (fields) => wrap(p.child(fields)),
  };
}

export function createLogger(opts: LoggerOptions): Logger {
  const p = pino(
    {
      level: opts.level ?? "info",
      base: { service: opts.service },
      messageKey: "msg",
      mixin: traceFields,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACT_PATHS, censor: "[redacted]" },
      serializers: {
        err: (e: unknown) => serializeError(e),
      },
    },
    opts.destination,
  );
  return wrap(p);
}

/** Errors as log fields: name, code, message (masked), no stack for expected errors. */
export function serializeError(e: unknown): LogFields {
  if (e instanceof Error) {
    const out: LogFields = { name: e.name, message: maskSecrets(e.message) };
    const code = (e as { code?: unknown }).code;
    if (code !== undefined) out.code = code;
    if (!("retryable" in e)) out.stack = e.stack ? maskSecrets(e.stack) : undefined;
    return out;
  }
  // Already serialized (callers pass serializeError(e) as the `err` field): keep it.
  if (e !== null && typeof e === "object") return e as LogFields;
  return { message: maskSecrets(String(e)) };
}

/** A logger that drops everything, for unit tests of pure code. */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return silentLogger;
  },
};

/**
 * One wide log line per handled request: debug when it succeeded, info for client errors,
 * error (with the cause) for internal and availability errors.
 */
export function wideEventLogger(log: Logger) {
  return {
    onHandled({
      op,
      ok,
      durationMs,
      error,
    }: {
      op: string;
      ok: boolean;
      durationMs: number;
      error?: { code: string; message: string; cause?: unknown };
    }) {
      const fields = { op, ok, duration_ms: Math.round(durationMs * 100) / 100 };
      if (ok) log.debug("wide_event", fields);
      else if (error && (error.code === "internal" || error.code === "unavailable")) {
        log.error("wide_event", {
          ...fields,
          error: { code: error.code, ...serializeError(error.cause ?? error) },
        });
      } else log.info("wide_event", { ...fields, error: { code: error?.code, message: error?.message } });
    },
  };
}
