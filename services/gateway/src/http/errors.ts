/**
 * The API's error envelope (spec §1.3) and the mapping from everything that can go wrong to it.
 *
 * Invariants:
 * - Every error response is `{"type":"error","error":{type,message,details?},"request_id"}` with the
 *   `request-id` header, whatever produced it (our code, fastify, a malformed request).
 * - 409s carry `x-should-retry: false` (they are semantic: the SDK must not retry them).
 * - 5xx messages never echo internals; the detail goes to the log.
 */
import { type ApiErrorEnvelope, AppError, type ErrorCode, HTTP_ERRORS, toAppError } from "@tendon/contracts";
import type { FastifyError, FastifyReply } from "fastify";

const FASTIFY_CODES: Record<string, { code: ErrorCode; message?: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { code: "payload_too_large", message: "request body is too large" },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    code: "invalid_request",
    message: "unsupported content-type; send application/json",
  },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: {
    code: "invalid_request",
    message: "content-length does not match the body",
  },
  FST_ERR_CTP_EMPTY_JSON_BODY: { code: "invalid_request", message: "request body is empty" },
  FST_ERR_CTP_INVALID_JSON_BODY: { code: "invalid_request", message: "request body is not valid JSON" },
  FST_ERR_BAD_URL: { code: "invalid_request", message: "malformed URL" },
  FST_ERR_ASYNC_CONSTRAINT: { code: "invalid_request" },
  FST_ERR_INVALID_URL: { code: "invalid_request", message: "malformed URL" },
  FST_ERR_MAX_PARAM_LENGTH: { code: "invalid_request", message: "a path parameter is too long" },
};

/** Normalises anything thrown in a request into an AppError. */
export function toHttpError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  const fe = err as Partial<FastifyError> & { type?: string };
  if (fe && typeof fe.code === "string" && FASTIFY_CODES[fe.code]) {
    const m = FASTIFY_CODES[fe.code]!;
    return new AppError(m.code, m.message ?? fe.message ?? "bad request", { cause: err });
  }
  if (fe && fe instanceof SyntaxError)
    return new AppError("invalid_request", "request body is not valid JSON", { cause: err });
  if (fe && typeof fe.statusCode === "number" && fe.statusCode >= 400 && fe.statusCode < 500) {
    if (fe.statusCode === 413)
      return new AppError("payload_too_large", "request body is too large", { cause: err });
    return new AppError("invalid_request", fe.message ?? "bad request", { cause: err });
  }
  return toAppError(err);
}

export function envelope(e: AppError, requestId: string): ApiErrorEnvelope {
  const m = HTTP_ERRORS[e.code];
  const internal = m.status >= 500 && e.code === "internal";
  return {
    type: "error",
    error: {
      type: m.type,
      message: internal ? "internal server error" : e.message,
      ...(e.details && !internal ? { details: e.details } : {}),
    },
    request_id: requestId,
  };
}

export function sendError(reply: FastifyReply, e: AppError, requestId: string): FastifyReply {
  const m = HTTP_ERRORS[e.code];
  reply.code(m.status).header("content-type", "application/json");
  if (m.status === 409) reply.header("x-should-retry", "false");
  if (e.code === "unavailable" || e.code === "rate_limited") reply.header("retry-after", "1");
  return reply.send(envelope(e, requestId));
}

/**
 * The raw bytes of an error response for a request the HTTP parser refused before any route ran
 * (malformed request line or headers, headers too large, a body that breaks framing, a timeout):
 * the same envelope, then the connection closes.
 */
export function rawErrorResponse(status: 400 | 408 | 431, message: string, requestId: string): string {
  const type = status === 408 ? "timeout_error" : "invalid_request_error";
  const body = JSON.stringify({ type: "error", error: { type, message }, request_id: requestId });
  const reason = { 400: "Bad Request", 408: "Request Timeout", 431: "Request Header Fields Too Large" }[
    status
  ];
  return (
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
    `request-id: ${requestId}\r\nConnection: close\r\n\r\n${body}`
  );
}

/** What the parser error `code` (Node's `clientError`) maps to. */
export function clientErrorStatus(code: string | undefined): { status: 400 | 408 | 431; message: string } {
  if (code === "ERR_HTTP_REQUEST_TIMEOUT")
    return { status: 408, message: "the request took too long to arrive" };
  if (code === "HPE_HEADER_OVERFLOW") return { status: 431, message: "the request headers are too large" };
  return { status: 400, message: "malformed HTTP request" };
}
