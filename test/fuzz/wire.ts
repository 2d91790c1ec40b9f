/**
 * Sending fuzz requests and checking the invariants every response must hold:
 * - never a 5xx, never a hang (a response or a close within the timeout);
 * - an error is the API envelope `{"type":"error","error":{"type","message"},"request_id"}` with a
 *   known `error.type`, a `req_` id equal to the `request-id` header, and JSON content-type;
 * - a 2xx is JSON that parses with the route's response schema;
 * - no response (of any request) contains a secret the fuzz has sent.
 *
 * Failures throw an Error naming the request, so fast-check's report shows what broke.
 */
import { ApiErrorEnvelope, ApiErrorType } from "@tendon/contracts";
import { SECRET_RE } from "./bodies.js";
import {
  encodeRequest,
  type RawClosed,
  type RawOptions,
  type RawRequestSpec,
  type RawResponse,
  rawRequest,
  type Target,
} from "./raw-http.js";

/**
 * Statuses of the error taxonomy (packages/contracts/src/errors.ts), plus those of requests refused
 * before they reach a route: 408 (a request too slow), 417 (an Expect other than 100-continue) and
 * 431 (headers too large).
 */
export const CLIENT_ERROR_STATUSES = new Set([400, 401, 403, 404, 408, 409, 412, 413, 417, 429, 431]);

/** What the checks need of a zod schema (the test package does not depend on zod itself). */
export interface Schema {
  safeParse(v: unknown): { success: boolean; error?: { message: string } | undefined };
}

export interface Sent {
  spec: RawRequestSpec;
  res: RawResponse | RawClosed;
}

export class Wire {
  readonly secrets = new Set<string>();
  readonly statuses = new Map<number | "closed", number>();
  requests = 0;

  constructor(
    readonly targets: readonly Target[],
    readonly apiKey: string,
  ) {}

  /** Headers of a well-behaved client; `auth` alternates between the two accepted forms. */
  headers(opts: { body?: boolean; bearer?: boolean } = {}): Array<[string, string | Buffer]> {
    const h: Array<[string, string | Buffer]> = [
      opts.bearer ? ["Authorization", `Bearer ${this.apiKey}`] : ["x-api-key", this.apiKey],
      ["anthropic-version", "2023-06-01"],
      ["anthropic-beta", "managed-agents-2026-04-01"],
    ];
    if (opts.body) h.push(["Content-Type", "application/json"]);
    return h;
  }

  /** Remembers every secret in the bytes about to be sent. */
  track(bytes: Buffer): void {
    for (const m of bytes.toString("latin1").matchAll(SECRET_RE)) this.secrets.add(m[0].toLowerCase());
  }

  async send(gateway: number, spec: RawRequestSpec, opts: RawOptions = {}): Promise<Sent> {
    const bytes = encodeRequest(spec);
    this.track(bytes);
    this.requests++;
    const target = this.targets[gateway % this.targets.length]!;
    const res = await rawRequest(target, bytes, {
      timeoutMs: 30_000,
      ...opts,
      head: spec.method === "HEAD",
      streams: true,
    });
    const k = res.closed ? "closed" : res.status;
    this.statuses.set(k, (this.statuses.get(k) ?? 0) + 1);
    return { spec, res };
  }

  /** Throws if any sent secret appears in `text`. */
  assertNoSecret(text: string, what: string): void {
    const lower = text.toLowerCase();
    for (const s of this.secrets) {
      if (lower.includes(s)) throw new Error(`${what}: a secret sent in a request was echoed back`);
    }
  }
}

export function describe(sent: Sent): string {
  const { spec, res } = sent;
  const body = spec.body ? spec.body.subarray(0, 300).toString("utf8") : "";
  const more = spec.body && spec.body.length > 300 ? `… (${spec.body.length} bytes)` : "";
  const got = res.closed
    ? `connection closed (${res.partial.length} bytes)`
    : `${res.status} ${res.body.subarray(0, 400).toString("utf8")}`;
  return `${spec.method} ${spec.path.slice(0, 200)} ${JSON.stringify(body)}${more} → ${got}`;
}

export interface Expect {
  /** Response schema of a 2xx (`undefined`: any JSON, or no body for 204). */
  schema?: Schema | undefined;
  /** Only these statuses are correct (else: any 2xx or taxonomy 4xx). */
  statuses?: readonly number[] | undefined;
  /** The server may close the connection without a response (broken framing, aborted upload). */
  mayClose?: boolean | undefined;
  /** HEAD: no body. */
  head?: boolean | undefined;
  /** The route is an event stream: a 200 is `text/event-stream`. */
  stream?: boolean | undefined;
}

const JSON_CT = /^application\/(json|[\w.+-]+\+json)\b/i;

/** Checks the invariants of one response; returns the parsed JSON body (if any). */
export function check(wire: Wire, sent: Sent, exp: Expect = {}): unknown {
  const fail = (why: string): never => {
    throw new Error(`${why}\n  request: ${describe(sent)}`);
  };
  const { res } = sent;
  if (res.closed) {
    if (!exp.mayClose) fail("the connection closed without a response");
    wire.assertNoSecret(res.partial.toString("utf8"), describe(sent));
    return undefined;
  }
  const text = res.body.toString("utf8");
  wire.assertNoSecret(text, describe(sent));
  for (const [k, v] of Object.entries(res.headers)) wire.assertNoSecret(`${k}: ${v}`, describe(sent));
  if (res.status >= 500) fail(`a ${res.status} (never a 5xx for client input)`);
  if (exp.statuses && !exp.statuses.includes(res.status)) {
    fail(`status ${res.status}, expected one of ${exp.statuses.join(", ")}`);
  }
  if (res.status < 200 || (res.status >= 300 && !CLIENT_ERROR_STATUSES.has(res.status))) {
    fail(`unexpected status ${res.status}`);
  }
  if (exp.head) return undefined;
  if (res.status === 204) {
    if (res.body.length !== 0) fail("a 204 with a body");
    return undefined;
  }
  if (/^text\/event-stream/i.test(res.headers["content-type"] ?? "")) {
    if (!exp.stream || res.status !== 200) fail(`an event stream (${res.status}) where JSON was expected`);
    return undefined;
  }
  if (!JSON_CT.test(res.headers["content-type"] ?? "")) {
    fail(`content-type ${JSON.stringify(res.headers["content-type"])} is not JSON`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return fail("the body is not JSON");
  }
  if (res.status >= 400) {
    const env = ApiErrorEnvelope.safeParse(parsed);
    if (!env.success) fail("the error is not the API's envelope");
    const e = env.data!;
    if (!ApiErrorType.safeParse(e.error.type).success) fail(`unknown error.type ${e.error.type}`);
    if (!/^req_[A-Za-z0-9]+$/.test(e.request_id)) fail(`request_id ${e.request_id}`);
    if (res.headers["request-id"] !== e.request_id) fail("request-id header differs from request_id");
    if (e.error.message.length === 0) fail("an empty error message");
    if (res.status === 409 && res.headers["x-should-retry"] !== "false")
      fail("a 409 without x-should-retry: false");
    return parsed;
  }
  if (exp.schema) {
    const r = exp.schema.safeParse(parsed);
    if (!r.success)
      fail(
        `the ${res.status} body does not match the route's schema: ${(r.error?.message ?? "").slice(0, 500)}`,
      );
  }
  return parsed;
}

/** `{data: [...], next_page}`: the shape of every list response. */
export function isPage(v: unknown): v is { data: unknown[]; next_page: string | null } {
  if (typeof v !== "object" || v === null) return false;
  const p = v as { data?: unknown; next_page?: unknown };
  return Array.isArray(p.data) && (p.next_page === null || typeof p.next_page === "string");
}
