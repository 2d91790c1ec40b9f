/**
 * What the request and tunnel handlers share: the options, the policy look-up, where a host
 * really is, upstream agents and TLS trust, the leaf issuer, and which identity (and, inside a
 * terminated tunnel, which target) a socket belongs to.
 *
 * Invariants:
 * - Network policy is checked before anything else happens for a target, and again for every
 *   request inside a terminated tunnel (policies are looked up per request, never cached here).
 * - Only the proxy resolves names. With the default resolver, a name or literal that resolves to
 *   a loopback, link-local, unspecified or multicast address is refused (the credential-proxy
 *   host's own services, cloud metadata) unless `allowInternalAddresses` is set; the connection
 *   then goes to the address that was checked, so DNS cannot change the answer in between.
 * - Upstream TLS is verified against Node's bundled roots, the system bundle and `upstreamCa`,
 *   always with `rejectUnauthorized`, for the host the sandbox named (SNI and identity check).
 */
import { lookup } from "node:dns/promises";
import { existsSync, readFileSync } from "node:fs";
import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import { createSecureContext, rootCertificates, type SecureContext } from "node:tls";
import type { LeafIssuer } from "./ca.js";
import { hostAllowed, isInternalAddress } from "./hosts.js";
import type { EgressIdentity } from "./identity.js";
import type { EgressRecord, LogFn } from "./records.js";
import type { InjectedHeaders, SubstitutedCredential } from "./substitute.js";

export type NetworkPolicy = { type: "unrestricted" } | { type: "limited"; allowedHosts: string[] };

export interface EgressPolicy {
  /** `limited` with no hosts: no network at all. */
  network: NetworkPolicy;
  credentials: SubstitutedCredential[];
  inject?: InjectedHeaders[];
}

export interface Target {
  host: string;
  port: number;
}

/** Why a target is refused before any byte goes out; `status` is the HTTP status to answer. */
export class TargetRefused extends Error {
  override readonly name = "TargetRefused";
  constructor(
    readonly status: number,
    readonly reason: string,
    readonly blocked: boolean,
  ) {
    super(reason);
  }
}

export const NOT_ALLOWED = "host not on this environment's allow-list";

export interface ProxyContext {
  policyFor(id: EgressIdentity): Promise<EgressPolicy>;
  sink(r: EgressRecord): void;
  log: LogFn;
  maxBodyBytes: number;
  connectTimeoutMs: number;
  issuer: LeafIssuer;
  httpAgent: HttpAgent;
  httpsAgent: HttpsAgent;
  upstreamTls: SecureContext;
  /** Where to connect for an allowed target; throws TargetRefused. */
  locate(host: string, port: number): Promise<Target>;
  identities: WeakMap<object, EgressIdentity>;
  /** Sockets of terminated tunnels → the host:port the CONNECT named, and requests seen so far. */
  tunnelTargets: WeakMap<object, Target & { requests: number }>;
}

/** The policy for an identity, or a refusal (the look-up failing fails closed). */
export async function policyOrRefuse(ctx: ProxyContext, id: EgressIdentity): Promise<EgressPolicy> {
  try {
    return await ctx.policyFor(id);
  } catch (err) {
    ctx.log("error", "egress policy look-up failed", { error: err instanceof Error ? err.name : typeof err });
    throw new TargetRefused(503, "egress policy unavailable", true);
  }
}

export function checkNetwork(policy: EgressPolicy, host: string, port: number): void {
  const rules = policy.network.type === "unrestricted" ? "unrestricted" : policy.network.allowedHosts;
  if (!hostAllowed(rules, host, port)) throw new TargetRefused(403, NOT_ALLOWED, true);
}

const SYSTEM_BUNDLES = [
  "/etc/ssl/certs/ca-certificates.crt",
  "/etc/pki/tls/certs/ca-bundle.crt",
  "/etc/ssl/cert.pem",
];

/** Node's bundled roots + the system bundle (if there is one) + extra CAs, in one context. */
export function upstreamTrust(extra: readonly string[]): SecureContext {
  const system = SYSTEM_BUNDLES.find((p) => existsSync(p));
  const ca = [...rootCertificates, ...(system ? [readFileSync(system, "utf8")] : []), ...extra];
  return createSecureContext({ ca });
}

export function makeLocator(
  resolve: ((host: string, port: number) => Promise<Target>) | undefined,
  allowInternal: boolean,
): (host: string, port: number) => Promise<Target> {
  if (resolve) {
    return async (host, port) => {
      try {
        return await resolve(host, port);
      } catch {
        throw new TargetRefused(502, "host did not resolve", false);
      }
    };
  }
  return async (host, port) => {
    let address: string;
    try {
      ({ address } = await lookup(host));
    } catch {
      throw new TargetRefused(502, "host did not resolve", false);
    }
    if (!allowInternal && isInternalAddress(address)) {
      throw new TargetRefused(403, "host resolves to a loopback, link-local or reserved address", true);
    }
    return { host: address, port };
  };
}

export function newAgents(upstreamTls: SecureContext): { httpAgent: HttpAgent; httpsAgent: HttpsAgent } {
  return {
    httpAgent: new HttpAgent({ keepAlive: true, maxFreeSockets: 16 }),
    httpsAgent: new HttpsAgent({ keepAlive: true, maxFreeSockets: 16, secureContext: upstreamTls }),
  };
}

/** `host[:port]` for a Host header, the port omitted when it is the scheme's default. */
export function authority(host: string, port: number, scheme: "http" | "https"): string {
  const h = host.includes(":") ? `[${host}]` : host;
  return port === (scheme === "https" ? 443 : 80) ? h : `${h}:${port}`;
}
