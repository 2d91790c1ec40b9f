/**
 * The egress certificate authority and the leaf certificates it signs for hosts whose TLS the
 * proxy terminates (see connect.ts for when that happens).
 *
 * - `createCertificateAuthority` makes a self-signed EC P-256 CA (pathLen 0: it can sign leaves,
 *   never another CA). The credential-proxy stores its key sealed; only its certificate is handed
 *   to sandboxes, to trust.
 * - `LeafIssuer` signs short-lived (default 7 days, never beyond the CA's own expiry) serverAuth
 *   leaves for one host each (a DNS or IP subjectAltName), all with one EC P-256 key per proxy
 *   process, and caches a ready TLS SecureContext per host (bounded, renewed a day before expiry).
 *
 * Invariants:
 * - The CA key is only ever used in this process to sign; it is never logged, sent or cached
 *   anywhere but in memory as a non-extractable WebCrypto key.
 * - Certificates are made with @peculiar/x509 on Node's WebCrypto (pure JS, no install scripts).
 *   That library's dependency injection needs the `reflect-metadata` polyfill, loaded here first;
 *   it only adds `Reflect.metadata`-style functions and leaves existing globals alone.
 * - The WebCrypto provider is passed explicitly to every call: no global provider is set.
 */
import "reflect-metadata";
import { createPrivateKey, randomBytes, webcrypto } from "node:crypto";
import { isIP } from "node:net";
import { createSecureContext, type SecureContext } from "node:tls";
import * as x509 from "@peculiar/x509";

export interface CertificateAuthority {
  certPem: string;
  keyPem: string;
}

const crypto = webcrypto;
type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;
type SigningAlgorithm = webcrypto.Algorithm | webcrypto.EcdsaParams;
const EC_P256 = { name: "ECDSA", namedCurve: "P-256" } as const;
const ECDSA_SHA256 = { name: "ECDSA", hash: "SHA-256" } as const;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

function serial(): string {
  const b = randomBytes(16);
  b[0] = (b[0] ?? 0) & 0x7f; // positive INTEGER
  return b.toString("hex");
}

function pkcs8Pem(der: ArrayBuffer): string {
  return createPrivateKey({ key: Buffer.from(der), format: "der", type: "pkcs8" })
    .export({ format: "pem", type: "pkcs8" })
    .toString();
}

/** A new self-signed EC P-256 CA, valid for `validDays` (default 3650). */
export async function createCertificateAuthority(opts?: {
  commonName?: string;
  validDays?: number;
}): Promise<CertificateAuthority> {
  const keys = (await crypto.subtle.generateKey({ ...EC_P256 }, true, ["sign", "verify"])) as CryptoKeyPair;
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: serial(),
      name: [{ CN: [opts?.commonName ?? "Tendon egress CA"] }],
      notBefore: new Date(now - HOUR),
      notAfter: new Date(now + (opts?.validDays ?? 3650) * DAY),
      keys,
      signingAlgorithm: { ...ECDSA_SHA256 },
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
      ],
    },
    crypto,
  );
  return {
    certPem: cert.toString("pem"),
    keyPem: pkcs8Pem(await crypto.subtle.exportKey("pkcs8", keys.privateKey)),
  };
}

/** Imports the CA's key for signing: EC P-256/P-384 or RSA. */
async function importSigningKey(keyPem: string): Promise<{ key: CryptoKey; alg: SigningAlgorithm }> {
  const ko = createPrivateKey(keyPem);
  const der = ko.export({ format: "der", type: "pkcs8" });
  if (ko.asymmetricKeyType === "ec") {
    const curve = ko.asymmetricKeyDetails?.namedCurve;
    const namedCurve = curve === "secp384r1" ? "P-384" : curve === "prime256v1" ? "P-256" : null;
    if (!namedCurve) throw new Error("egress CA key: unsupported EC curve");
    const key = await crypto.subtle.importKey("pkcs8", der, { name: "ECDSA", namedCurve }, false, ["sign"]);
    return { key, alg: { name: "ECDSA", hash: namedCurve === "P-384" ? "SHA-384" : "SHA-256" } };
  }
  if (ko.asymmetricKeyType === "rsa") {
    const alg = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
    return { key: await crypto.subtle.importKey("pkcs8", der, alg, false, ["sign"]), alg };
  }
  throw new Error("egress CA key: unsupported key type");
}

export interface IssuedCertificate {
  certPem: string;
  keyPem: string;
}

interface CacheEntry {
  context: Promise<SecureContext>;
  renewAt: number;
}

/** Signs leaf certificates with a CA and caches a TLS context per host. */
export class LeafIssuer {
  private readonly caCert: x509.X509Certificate;
  private signer: Promise<{ key: CryptoKey; alg: SigningAlgorithm }> | undefined;
  private leafKeys: Promise<{ pair: CryptoKeyPair; pem: string }> | undefined;
  private readonly cache = new Map<string, CacheEntry>();

  constructor(
    private readonly ca: CertificateAuthority,
    private readonly opts: { validDays?: number; maxCached?: number; now?: () => number } = {},
  ) {
    this.caCert = new x509.X509Certificate(ca.certPem);
  }

  private now(): number {
    return this.opts.now?.() ?? Date.now();
  }

  private keys(): Promise<{ pair: CryptoKeyPair; pem: string }> {
    this.leafKeys ??= (async () => {
      const pair = (await crypto.subtle.generateKey({ ...EC_P256 }, true, [
        "sign",
        "verify",
      ])) as CryptoKeyPair;
      return { pair, pem: pkcs8Pem(await crypto.subtle.exportKey("pkcs8", pair.privateKey)) };
    })();
    return this.leafKeys;
  }

  /** A new leaf for `host` (a DNS name or IP literal), signed by the CA. */
  async issue(host: string): Promise<IssuedCertificate & { notAfter: number }> {
    this.signer ??= importSigningKey(this.ca.keyPem);
    const [{ key, alg }, leaf] = await Promise.all([this.signer, this.keys()]);
    const now = this.now();
    const notAfter = Math.min(now + (this.opts.validDays ?? 7) * DAY, this.caCert.notAfter.getTime());
    const ip = isIP(host) !== 0;
    const cert = await x509.X509CertificateGenerator.create(
      {
        serialNumber: serial(),
        subject: host.length <= 64 ? [{ CN: [host] }] : [{ O: ["Tendon egress"] }],
        issuer: this.caCert.subjectName,
        notBefore: new Date(now - HOUR),
        notAfter: new Date(notAfter),
        publicKey: leaf.pair.publicKey,
        signingKey: key,
        signingAlgorithm: alg,
        extensions: [
          new x509.BasicConstraintsExtension(false, undefined, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
          new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
          new x509.SubjectAlternativeNameExtension([{ type: ip ? "ip" : "dns", value: host }], false),
          await x509.AuthorityKeyIdentifierExtension.create(this.caCert, false, crypto),
          await x509.SubjectKeyIdentifierExtension.create(leaf.pair.publicKey, false, crypto),
        ],
      },
      crypto,
    );
    return { certPem: cert.toString("pem"), keyPem: leaf.pem, notAfter };
  }

  /** A TLS server context presenting a leaf for `host`; cached until a day before the leaf expires. */
  contextFor(host: string): Promise<SecureContext> {
    const now = this.now();
    const hit = this.cache.get(host);
    if (hit && hit.renewAt > now) {
      // Refresh recency for the bounded cache (Map keeps insertion order).
      this.cache.delete(host);
      this.cache.set(host, hit);
      return hit.context;
    }
    const entry: CacheEntry = {
      context: this.issue(host).then((c) => {
        entry.renewAt = Math.max(now, c.notAfter - DAY);
        return createSecureContext({ key: c.keyPem, cert: c.certPem, minVersion: "TLSv1.2" });
      }),
      renewAt: Number.POSITIVE_INFINITY,
    };
    this.cache.delete(host);
    this.cache.set(host, entry);
    entry.context.catch(() => {
      if (this.cache.get(host) === entry) this.cache.delete(host);
    });
    const max = this.opts.maxCached ?? 1024;
    while (this.cache.size > max) {
      const oldest = this.cache.keys().next().value;
      if (oldest === undefined) break;
      this.cache.delete(oldest);
    }
    return entry.context;
  }
}
