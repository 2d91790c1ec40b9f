/**
 * Host names, host rules and the address classes the proxy refuses to reach.
 *
 * A rule is `api.example.com`, `*.example.com` (any depth of subdomain, never the apex itself), an
 * IPv4 literal (`10.0.0.7`), or a bracketed IPv6 literal; any of them may end in `:port`, and then
 * matches only that port.
 *
 * Invariants:
 * - Pure: no I/O, no DNS. Comparison happens on canonical names (lower case, no trailing dot, IPv4
 *   in dotted-quad form as the WHATWG URL parser writes it, so `0x7f.1` is `127.0.0.1`), so one
 *   address cannot slip past a rule by being spelled differently.
 * - A host that does not parse as a plain host name or IP literal (userinfo, path, spaces,
 *   non-ASCII) matches nothing, and neither does a rule that does not parse: deny by default.
 */
import { isIP } from "node:net";

export type HostRule = string;

interface ParsedRule {
  host: string;
  wildcard: boolean;
  port: number | null;
}

const HOST_CHARS = /^[a-z0-9._-]+$/i;
const IPV6_CHARS = /^[0-9a-f:.]+$/i;

/**
 * The canonical form of a host name or IP literal (IPv6 without brackets), or null when it is not
 * one. Accepts `[::1]` and `::1` alike.
 */
export function canonicalHost(host: string): string | null {
  let h = host;
  if (h.startsWith("[") && h.endsWith("]")) h = h.slice(1, -1);
  if (h.length === 0 || h.length > 253) return null;
  if (h.includes(":")) {
    if (!IPV6_CHARS.test(h) || isIP(h) !== 6) return null;
    try {
      return new URL(`http://[${h}]/`).hostname.slice(1, -1);
    } catch {
      return null;
    }
  }
  if (!HOST_CHARS.test(h)) return null;
  try {
    const out = new URL(`http://${h}/`).hostname.replace(/\.$/, "");
    return out.split(".").every((l) => l.length > 0 && l.length <= 63) ? out : null;
  } catch {
    return null;
  }
}

/** Splits `host:port`, `[v6]:port` or a bare host; the port is null when absent. */
export function splitHostPort(authority: string): { host: string; port: number | null } | null {
  const a = authority.trim();
  const v6 = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(a);
  if (v6) return withPort(v6[1] ?? "", v6[2]);
  const m = /^([^:]+)(?::(\d{1,5}))?$/.exec(a);
  if (m) return withPort(m[1] ?? "", m[2]);
  return null;
}

function withPort(host: string, port: string | undefined): { host: string; port: number | null } | null {
  if (port === undefined) return { host, port: null };
  const n = Number(port);
  return n >= 1 && n <= 65535 ? { host, port: n } : null;
}

function parseRule(rule: HostRule): ParsedRule | null {
  const hp = splitHostPort(rule.trim().toLowerCase());
  if (!hp) return null;
  const wildcard = hp.host.startsWith("*.");
  const host = canonicalHost(wildcard ? hp.host.slice(2) : hp.host);
  if (!host) return null;
  if (wildcard && isIP(host) !== 0) return null;
  return { host, wildcard, port: hp.port };
}

/**
 * Whether `host` (and `port`, when the rule names one) is covered by `rule`. A rule with a port
 * never matches when `port` is omitted.
 */
export function hostMatches(rule: HostRule, host: string, port?: number): boolean {
  const r = parseRule(rule);
  const h = canonicalHost(host);
  if (!r || !h) return false;
  if (r.port !== null && r.port !== port) return false;
  if (!r.wildcard) return h === r.host;
  return isIP(h) === 0 && h.length > r.host.length && h.endsWith(`.${r.host}`);
}

/** Whether any rule covers the host; `"unrestricted"` covers every host. */
export function hostAllowed(
  rules: readonly HostRule[] | "unrestricted",
  host: string,
  port: number,
): boolean {
  if (rules === "unrestricted") return true;
  return rules.some((r) => hostMatches(r, host, port));
}

function ipv4Internal(ip: string): boolean {
  const [a = 0, b = 0] = ip.split(".").map(Number);
  return (
    a === 0 || // "this network", 0.0.0.0
    a === 127 || // loopback
    (a === 169 && b === 254) || // link-local, cloud metadata endpoints
    a >= 224 // multicast, reserved, broadcast
  );
}

/**
 * Loopback, link-local (cloud metadata lives there), unspecified, multicast and reserved
 * addresses: the credential-proxy host's own services and the cloud's metadata endpoint, which a
 * sandbox must never reach through the proxy when DNS decides the address. Private ranges
 * (10/8, 172.16/12, 192.168/16, fc00::/7) are not included: self-hosted deployments legitimately
 * allow internal services by name.
 */
export function isInternalAddress(ip: string): boolean {
  const kind = isIP(ip);
  if (kind === 4) return ipv4Internal(ip);
  if (kind !== 6) return true;
  const h = canonicalHost(ip) ?? "";
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(h);
  if (mapped) return ipv4Internal(mapped[1] ?? "");
  const hex = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(h);
  if (hex) {
    const hi = Number.parseInt(hex[1] ?? "0", 16);
    const lo = Number.parseInt(hex[2] ?? "0", 16);
    return ipv4Internal(`${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`);
  }
  return h === "::" || h === "::1" || /^fe[89ab]/.test(h) || h.startsWith("ff");
}
