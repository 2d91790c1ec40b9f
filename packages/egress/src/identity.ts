/**
 * The identity preamble: the first line of every connection to the egress proxy, written by the
 * sandbox-side bridge (host side of the sandbox, never inside it), telling the proxy which session
 * and sandbox the connection belongs to.
 *
 *   TENDON-EGRESS <payload>.<mac>\r\n
 *   payload = base64url(JSON {session_id, sandbox_id, exp})   exp: milliseconds since the epoch
 *   mac     = base64url(HMAC-SHA256(secret, payload))
 *
 * Invariants:
 * - The secret is shared by sandbox-manager and credential-proxy only; code in a sandbox neither
 *   sees it nor sees a preamble (the bridge writes it on the host side of the socket).
 * - The MAC is compared in constant time and checked before the payload is parsed.
 * - A line is at most MAX_PREAMBLE_BYTES long, including the CRLF.
 * - Errors name what was wrong (malformed, bad signature, expired), never the secret or the MAC.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { z } from "zod";

export interface EgressIdentity {
  sessionId: string;
  sandboxId: string;
}

export const PREAMBLE_PREFIX = "TENDON-EGRESS ";
export const MAX_PREAMBLE_BYTES = 2048;
const DEFAULT_TTL_MS = 60_000;

const Payload = z.object({
  session_id: z.string().min(1).max(256),
  sandbox_id: z.string().min(1).max(256),
  exp: z.number().int(),
});

export type IdentityErrorCode = "malformed" | "bad_signature" | "expired";

export class EgressIdentityError extends Error {
  override readonly name = "EgressIdentityError";
  constructor(
    readonly code: IdentityErrorCode,
    /** Set only for `expired`: the signature was good, so the identity is known. */
    readonly identity?: EgressIdentity,
  ) {
    super(`egress identity ${code.replace("_", " ")}`);
  }
}

function mac(secret: Buffer, payload: string): Buffer {
  return createHmac("sha256", secret).update(payload).digest();
}

/** The full preamble line, CRLF included, valid for `ttlMs` (default 60 s) from now. */
export function signIdentity(
  secret: Buffer,
  id: EgressIdentity,
  ttlMs = DEFAULT_TTL_MS,
  now = Date.now(),
): string {
  const body = JSON.stringify({ session_id: id.sessionId, sandbox_id: id.sandboxId, exp: now + ttlMs });
  const payload = Buffer.from(body, "utf8").toString("base64url");
  return `${PREAMBLE_PREFIX}${payload}.${mac(secret, payload).toString("base64url")}\r\n`;
}

/** Checks a preamble line (with or without its CRLF); throws EgressIdentityError when it is not valid. */
export function verifyIdentity(secret: Buffer, line: string, now = Date.now()): EgressIdentity {
  const text = line.endsWith("\r\n") ? line.slice(0, -2) : line;
  if (text.length + 2 > MAX_PREAMBLE_BYTES || !text.startsWith(PREAMBLE_PREFIX)) {
    throw new EgressIdentityError("malformed");
  }
  const token = text.slice(PREAMBLE_PREFIX.length);
  const dot = token.indexOf(".");
  if (dot <= 0 || token.indexOf(".", dot + 1) !== -1) throw new EgressIdentityError("malformed");
  const payload = token.slice(0, dot);
  const given = Buffer.from(token.slice(dot + 1), "base64url");
  const expected = mac(secret, payload);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new EgressIdentityError("bad_signature");
  }
  let parsed: z.infer<typeof Payload>;
  try {
    parsed = Payload.parse(JSON.parse(Buffer.from(payload, "base64url").toString("utf8")));
  } catch {
    throw new EgressIdentityError("malformed");
  }
  const identity = { sessionId: parsed.session_id, sandboxId: parsed.sandbox_id };
  if (parsed.exp <= now) throw new EgressIdentityError("expired", identity);
  return identity;
}

/**
 * The identity secret as configured (TENDON_EGRESS_SECRET, shared by the credential-proxy and the
 * sandbox-manager): base64 of at least 32 random bytes.
 */
export const EgressSecret = z
  .string()
  .transform((v) => Buffer.from(v, "base64"))
  .refine((b) => b.length >= 32, "must be base64 of at least 32 random bytes (openssl rand -base64 32)");
