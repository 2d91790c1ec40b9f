/**
 * @tendon/egress: the only network path out of a sandbox. An HTTP(S) forward proxy, run by the
 * credential-proxy, that knows each connection's session from a signed identity preamble, allows
 * only the hosts of the environment's network policy, and writes real secrets in place of the
 * placeholders sandboxes hold, only on the way to each credential's allowed hosts. HTTPS is
 * tunnelled untouched unless a secret must be written into it (see connect.ts for the trade-off).
 */
export type { CertificateAuthority, IssuedCertificate } from "./ca.js";
export { createCertificateAuthority, LeafIssuer } from "./ca.js";
export type { EgressPolicy, NetworkPolicy } from "./context.js";
export { NOT_ALLOWED } from "./context.js";
export type { HostRule } from "./hosts.js";
export { canonicalHost, hostAllowed, hostMatches, isInternalAddress } from "./hosts.js";
export type { EgressIdentity, IdentityErrorCode } from "./identity.js";
export {
  EgressIdentityError,
  EgressSecret,
  PREAMBLE_PREFIX,
  signIdentity,
  verifyIdentity,
} from "./identity.js";
export type { EgressProxy, EgressProxyOptions } from "./proxy.js";
export { createEgressProxy } from "./proxy.js";
export type { EgressRecord } from "./records.js";
export type { InjectedHeaders, SubstitutedCredential } from "./substitute.js";
