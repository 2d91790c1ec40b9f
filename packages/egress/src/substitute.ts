/**
 * Placeholder → secret substitution and header injection for one request to one host.
 *
 * `planFor` picks, from a policy, the credentials whose allowed hosts cover the request's target
 * and the locations (header, body) each may be substituted in, plus the inject rules that cover
 * the target. The other functions apply a plan to raw headers or a buffered body.
 *
 * Invariants:
 * - A secret is only ever written for a credential whose `allowedHosts` covers the exact
 *   host:port the bytes are going to; a placeholder meant for another host passes unchanged.
 * - Substitution is a single left-to-right pass over the original text, so a secret that happens
 *   to contain another credential's placeholder is never substituted again.
 * - `used` collects the ids of credentials actually written (placeholder found or header
 *   injected): that, never a secret, is what a record carries.
 * - Empty placeholders are ignored (they would match everywhere).
 */
import { posix } from "node:path";
import { hostAllowed, hostMatches } from "./hosts.js";

export interface SubstitutedCredential {
  id: string;
  vaultId: string;
  placeholder: string;
  secret: string;
  allowedHosts: string[] | "unrestricted";
  injection: { header: boolean; body: boolean };
}

export interface InjectedHeaders {
  credentialId: string;
  hosts: string[];
  /**
   * Only requests whose path starts with this get the headers (e.g. `/org/repo.git/` for one   * repository's token on a shared git host). Only plain paths qualify (no dot segments, no
   * encoded dots or slashes), so a crafted path cannot climb into or out of the prefix.
   */
  pathPrefix?: string;
  headers: Record<string, string>;
}

export interface Replacement {
  credentialId: string;
  placeholder: string;
  secret: string;
}

export interface SubstitutionPlan {
  header: Replacement[];
  body: Replacement[];
  inject: { credentialId: string; headers: Record<string, string> }[];
}

/**
 * What applies to a request bound for host:port. Without `path` (deciding whether to terminate a
 * CONNECT), path-scoped inject rules count as applying.
 */
export function planFor(
  policy: { credentials: readonly SubstitutedCredential[]; inject?: readonly InjectedHeaders[] | undefined },
  host: string,
  port: number,
  path?: string,
): SubstitutionPlan {
  const plan: SubstitutionPlan = { header: [], body: [], inject: [] };
  for (const c of policy.credentials) {
    if (c.placeholder.length === 0 || !hostAllowed(c.allowedHosts, host, port)) continue;
    const r = { credentialId: c.id, placeholder: c.placeholder, secret: c.secret };
    if (c.injection.header) plan.header.push(r);
    if (c.injection.body) plan.body.push(r);
  }
  for (const i of policy.inject ?? []) {
    if (i.hosts.some((rule) => hostMatches(rule, host, port)) && pathUnder(path, i.pathPrefix)) {
      plan.inject.push({ credentialId: i.credentialId, headers: i.headers });
    }
  }
  return plan;
}

/** Whether a request path (origin-form, may carry a query) is under `prefix`. */
export function pathUnder(path: string | undefined, prefix: string | undefined): boolean {
  if (prefix === undefined || path === undefined) return true;
  const pathname = path.split("?")[0]!.split("#")[0]!;
  // Only plain paths qualify: no dot segments, no encoded dots or slashes, nothing to reinterpret.
  if (/%2e|%2f|%5c|\\/i.test(pathname) || posix.normalize(pathname) !== pathname) return false;
  return pathname.startsWith(prefix) || `${pathname}/` === prefix;
}

export function planIsEmpty(plan: SubstitutionPlan): boolean {
  return plan.header.length === 0 && plan.body.length === 0 && plan.inject.length === 0;
}

/** Replaces every placeholder in `text` in one pass; `encode` transforms each secret as written. */
export function replaceInString(
  text: string,
  reps: readonly Replacement[],
  used: Set<string>,
  encode: (secret: string) => string = (s) => s,
): string {
  let out = "";
  let at = 0;
  for (;;) {
    let best = -1;
    let hit: Replacement | undefined;
    for (const r of reps) {
      const i = text.indexOf(r.placeholder, at);
      if (i !== -1 && (best === -1 || i < best)) {
        best = i;
        hit = r;
      }
    }
    if (!hit) return at === 0 ? text : out + text.slice(at);
    out += text.slice(at, best) + encode(hit.secret);
    used.add(hit.credentialId);
    at = best + hit.placeholder.length;
  }
}

/** Buffer version of replaceInString (bodies may be binary; placeholders are matched bytewise). */
export function replaceInBuffer(
  buf: Buffer,
  reps: readonly Replacement[],
  used: Set<string>,
  encode: (secret: string) => string = (s) => s,
): Buffer {
  const needles = reps.map((r) => ({ r, bytes: Buffer.from(r.placeholder, "utf8") }));
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    let best = -1;
    let hit: (typeof needles)[number] | undefined;
    for (const n of needles) {
      const i = buf.indexOf(n.bytes, at);
      if (i !== -1 && (best === -1 || i < best)) {
        best = i;
        hit = n;
      }
    }
    if (!hit) break;
    parts.push(buf.subarray(at, best), Buffer.from(encode(hit.r.secret), "utf8"));
    used.add(hit.r.credentialId);
    at = best + hit.bytes.length;
  }
  if (at === 0) return buf;
  parts.push(buf.subarray(at));
  return Buffer.concat(parts);
}

/**
 * How a secret is written into a body so the body stays well-formed: JSON-string-escaped in JSON,
 * percent-encoded in form bodies, as is otherwise.
 */
export function bodyEncoder(contentType: string | undefined): (secret: string) => string {
  const ct = (contentType ?? "").toLowerCase();
  if (/[/+]json\b/.test(ct)) return (s) => JSON.stringify(s).slice(1, -1);
  if (ct.startsWith("application/x-www-form-urlencoded")) return encodeURIComponent;
  return (s) => s;
}

/** Hop-by-hop headers (RFC 9110 §7.6.1) plus proxy-only ones: never forwarded either way. */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authorization",
  "proxy-authenticate",
  "te",
  "trailer",
  "upgrade",
]);

/**
 * Drops hop-by-hop headers (and those the Connection header names) from a flat raw header list
 * (`[name, value, name, value, …]`), and any name in `alsoDrop` (lower case).
 */
export function stripHopByHop(raw: readonly string[], alsoDrop: readonly string[] = []): string[] {
  const drop = new Set([...HOP_BY_HOP, ...alsoDrop]);
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if ((raw[i] ?? "").toLowerCase() === "connection") {
      for (const t of (raw[i + 1] ?? "").split(",")) drop.add(t.trim().toLowerCase());
    }
  }
  const out: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] ?? "";
    if (!drop.has(name.toLowerCase())) out.push(name, raw[i + 1] ?? "");
  }
  return out;
}

const BASIC = /^(\s*basic\s+)([A-Za-z0-9+/=_-]+)\s*$/i;

function substituteValue(
  name: string,
  value: string,
  reps: readonly Replacement[],
  used: Set<string>,
): string {
  // git and most HTTP clients put credentials from URLs in Basic auth: user:PLACEHOLDER, base64'd.
  const basic = name.toLowerCase() === "authorization" ? BASIC.exec(value) : null;
  if (basic) {
    const decoded = Buffer.from(basic[2] ?? "", "base64").toString("utf8");
    const replaced = replaceInString(decoded, reps, used);
    if (replaced !== decoded) {
      return `${basic[1]}${Buffer.from(replaced, "utf8").toString("base64")}`;
    }
  }
  return replaceInString(value, reps, used);
}

/**
 * Applies a plan's header replacements and injections to a flat raw header list (already stripped
 * of hop-by-hop headers). Injected headers replace any header of the same name.
 */
export function substituteHeaders(
  raw: readonly string[],
  plan: SubstitutionPlan,
  used: Set<string>,
): string[] {
  const injected = new Map<string, [string, string]>();
  for (const i of plan.inject) {
    for (const [k, v] of Object.entries(i.headers)) injected.set(k.toLowerCase(), [k, v]);
    used.add(i.credentialId);
  }
  const out: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] ?? "";
    if (injected.has(name.toLowerCase())) continue;
    const value = raw[i + 1] ?? "";
    out.push(name, plan.header.length > 0 ? substituteValue(name, value, plan.header, used) : value);
  }
  for (const [k, v] of injected.values()) out.push(k, v);
  return out;
}
