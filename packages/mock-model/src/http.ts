/**
 * HTTP plumbing shared by the routes: ids, JSON replies, the Messages API error envelope, bounded
 * body reading and the API-key check.
 *
 * Invariants:
 * - Every error reply has the API's envelope `{type:"error", error:{type,message}, request_id}`
 *   and a `request-id` header with the same id.
 * - Nothing is written once the response has been sent or the socket has gone.
 */
import { randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { z } from "zod";

const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** `prefix` + 24 unbiased base62 characters, like the API's `msg_`, `toolu_`, `req_` ids. */
export function newId(prefix: string): string {
  let out = prefix;
  const want = prefix.length + 24;
  while (out.length < want) {
    for (const b of randomBytes(48)) {
      if (b < 248) out += ALPHABET[b % 62];
      if (out.length === want) break;
    }
  }
  return out;
}

/** Error types of the API, by the status that carries them. */
export type ApiErrorType =
  | "invalid_request_error"
  | "authentication_error"
  | "not_found_error"
  | "request_too_large"
  | "rate_limit_error"
  | "api_error"
  | "overloaded_error";

export const ERROR_TYPE_BY_STATUS: Readonly<Record<number, ApiErrorType>> = {
  400: "invalid_request_error",
  401: "authentication_error",
  404: "not_found_error",
  413: "request_too_large",
  429: "rate_limit_error",
  500: "api_error",
  529: "overloaded_error",
};

function writable(res: ServerResponse): boolean {
  return !res.headersSent && !res.destroyed && !res.writableEnded;
}

/** The request id of this response (set on arrival), or a fresh one. */
export function requestIdOf(res: ServerResponse): string {
  const id = res.getHeader("request-id");
  if (typeof id === "string") return id;
  const fresh = newId("req_");
  res.setHeader("request-id", fresh);
  return fresh;
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  if (!writable(res)) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
  });
  res.end(text);
}

export function sendError(
  res: ServerResponse,
  status: number,
  message: string,
  headers: Record<string, string> = {},
): void {
  if (!writable(res)) return;
  const requestId = requestIdOf(res);
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  sendJson(res, status, {
    type: "error",
    error: { type: ERROR_TYPE_BY_STATUS[status] ?? "api_error", message },
    request_id: requestId,
  });
}

/** Thrown by `readBody` when the body is larger than allowed. */
export class BodyTooLargeError extends Error {
  override readonly name = "BodyTooLargeError";
}

/** Reads the whole body as UTF-8, refusing more than `maxBytes`. */
export function readBody(req: IncomingMessage, maxBytes: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        reject(new BodyTooLargeError(`the request body exceeds ${maxBytes} bytes`));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
    req.on("close", () => reject(new Error("the request was closed before its body ended")));
  });
}

/** Parses JSON; `{ok:false}` for anything that is not valid JSON. */
export function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

/** `path: message; ...` for a zod error, short enough for an error reply. */
export function describeZodError(err: z.ZodError): string {
  return err.issues
    .slice(0, 5)
    .map((i) => `${i.path.length ? i.path.join(".") : "(body)"}: ${i.message}`)
    .join("; ");
}

/** True when no key is required, or `x-api-key` / `Authorization: Bearer` carries it. */
export function authorized(req: IncomingMessage, apiKey: string | undefined): boolean {
  if (apiKey === undefined) return true;
  if (req.headers["x-api-key"] === apiKey) return true;
  const auth = req.headers.authorization;
  return typeof auth === "string" && auth === `Bearer ${apiKey}`;
}
