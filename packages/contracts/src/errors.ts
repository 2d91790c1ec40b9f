/**
 * The closed error taxonomy shared by every service.
 *
 * Invariants:
 * - Control flow switches on `code`, never on message text.
 * - Retryability is data: `retryable` travels with the error across NATS and into HTTP headers.
 * - Messages are for people and never contain secrets; `details` carries machine-readable extras
 *   (the API's `error_code`, `current_state`, ...).
 */
import { z } from "zod";

export const ErrorCode = z.enum([
  "invalid_request",
  "authentication",
  "permission",
  "not_found",
  "conflict",
  "precondition_failed",
  "payload_too_large",
  "rate_limited",
  /** A harness write carried a lease epoch older than the session's: the writer has been fenced. */
  "fenced",
  /** A harness tried to idle the session while client input it has not seen is in the log. */
  "input_pending",
  "unavailable",
  "timeout",
  "internal",
]);
export type ErrorCode = z.infer<typeof ErrorCode>;

export const ErrorDetails = z.record(z.string(), z.unknown());
export type ErrorDetails = z.infer<typeof ErrorDetails>;

/** How an error crosses a process boundary (NATS replies). */
export const WireError = z.object({
  code: ErrorCode,
  message: z.string(),
  retryable: z.boolean(),
  details: ErrorDetails.optional(),
});
export type WireError = z.infer<typeof WireError>;

const DEFAULT_RETRYABLE: Record<ErrorCode, boolean> = {
  invalid_request: false,
  authentication: false,
  permission: false,
  not_found: false,
  conflict: false,
  precondition_failed: false,
  payload_too_large: false,
  rate_limited: true,
  fenced: false,
  input_pending: false,
  unavailable: true,
  timeout: true,
  internal: false,
};

export interface AppErrorOptions extends ErrorOptions {
  retryable?: boolean;
  details?: ErrorDetails;
}

export class AppError extends Error {
  readonly retryable: boolean;
  readonly details: ErrorDetails | undefined;

  constructor(
    readonly code: ErrorCode,
    message: string,
    opts: AppErrorOptions = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.retryable = opts.retryable ?? DEFAULT_RETRYABLE[code];
    this.details = opts.details;
  }

  toWire(): WireError {
    return {
      code: this.code,
      message: this.message,
      retryable: this.retryable,
      ...(this.details ? { details: this.details } : {}),
    };
  }

  static fromWire(w: WireError): AppError {
    return new AppError(w.code, w.message, {
      retryable: w.retryable,
      ...(w.details ? { details: w.details } : {}),
    });
  }
}

export class ValidationError extends AppError {
  constructor(message: string, opts: AppErrorOptions = {}) {
    super("invalid_request", message, opts);
  }
}

export class NotFoundError extends AppError {
  constructor(message: string, opts: AppErrorOptions = {}) {
    super("not_found", message, opts);
  }
}

export class ConflictError extends AppError {
  constructor(message: string, opts: AppErrorOptions = {}) {
    super("conflict", message, opts);
  }
}

export class FencedError extends AppError {
  constructor(message: string, opts: AppErrorOptions = {}) {
    super("fenced", message, opts);
  }
}

/** Normalise anything thrown into an AppError; unknown errors become `internal`. */
export function toAppError(e: unknown): AppError {
  if (e instanceof AppError) return e;
  if (e instanceof z.ZodError) return new ValidationError(formatZodError(e), { cause: e });
  const message = e instanceof Error ? e.message : String(e);
  return new AppError("internal", message, { cause: e });
}

/** `events.0.content: Invalid input; name: Required` — short, path-first, no input values echoed. */
export function formatZodError(e: z.ZodError, prefix = ""): string {
  const parts = e.issues.slice(0, 5).map((i) => {
    const path = [prefix, ...i.path.map(String)].filter((p) => p !== "").join(".");
    return path ? `${path}: ${i.message}` : i.message;
  });
  if (e.issues.length > 5) parts.push(`(${e.issues.length - 5} more)`);
  return parts.join("; ");
}

/** The Managed Agents API error envelope (spec §1.3). */
export const ApiErrorType = z.enum([
  "invalid_request_error",
  "authentication_error",
  "permission_error",
  "not_found_error",
  "request_too_large",
  "rate_limit_error",
  "timeout_error",
  "api_error",
  "overloaded_error",
]);
export type ApiErrorType = z.infer<typeof ApiErrorType>;

export const ApiErrorEnvelope = z.object({
  type: z.literal("error"),
  error: z.object({
    type: z.string(),
    message: z.string(),
    details: ErrorDetails.optional(),
  }),
  request_id: z.string(),
});
export type ApiErrorEnvelope = z.infer<typeof ApiErrorEnvelope>;

export interface HttpErrorMapping {
  status: number;
  type: ApiErrorType;
}

/** One table from error code to HTTP status and envelope type. */
export const HTTP_ERRORS: Record<ErrorCode, HttpErrorMapping> = {
  invalid_request: { status: 400, type: "invalid_request_error" },
  authentication: { status: 401, type: "authentication_error" },
  permission: { status: 403, type: "permission_error" },
  not_found: { status: 404, type: "not_found_error" },
  conflict: { status: 409, type: "invalid_request_error" },
  precondition_failed: { status: 412, type: "invalid_request_error" },
  payload_too_large: { status: 413, type: "request_too_large" },
  rate_limited: { status: 429, type: "rate_limit_error" },
  fenced: { status: 409, type: "invalid_request_error" },
  input_pending: { status: 409, type: "invalid_request_error" },
  unavailable: { status: 503, type: "api_error" },
  timeout: { status: 504, type: "timeout_error" },
  internal: { status: 500, type: "api_error" },
};
