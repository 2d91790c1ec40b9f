/**
 * Encryption at rest: AES-256-GCM under a master key the deployment provides.
 *
 * Invariants:
 * - Each record stores the id of the key that encrypted it (first 16 hex of sha256(key)), a fresh
 *   96-bit nonce and the ciphertext with its tag. The record id is the additional authenticated
 *   data, so a ciphertext cannot be moved to another record.
 * - Fails closed: a record whose key is not in the keyring, or whose tag does not verify, throws
 *   `KeyringError`; no partial plaintext ever comes out.
 * - Rotation: the first key encrypts; older keys (TENDON_MASTER_KEYS_OLD) only decrypt, until
 *   `rotate` has re-encrypted every record under the current key.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";

export class KeyringError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "KeyringError";
  }
}

export interface Sealed {
  key_id: string;
  nonce: Buffer;
  ciphertext: Buffer;
}

export interface Keyring {
  readonly currentKeyId: string;
  has(keyId: string): boolean;
  seal(plaintext: string, aad: string): Sealed;
  open(s: Sealed, aad: string): string;
}

export function keyId(key: Buffer): string {
  return createHash("sha256").update(key).digest("hex").slice(0, 16);
}

/** Accepts 32 bytes as base64, base64url or hex. */
export function parseKey(text: string): Buffer {
  const t = text.trim();
  const key = /^[0-9a-fA-F]{64}$/.test(t) ? Buffer.from(t, "hex") : Buffer.from(t, "base64");
  if (key.length !== 32) throw new KeyringError("a master key must be 32 bytes (base64 or hex)");
  return key;
}

export function createKeyring(current: Buffer, old: Buffer[] = []): Keyring {
  const keys = new Map<string, Buffer>();
  for (const k of [current, ...old]) keys.set(keyId(k), k);
  const currentKeyId = keyId(current);
  return {
    currentKeyId,
    has: (id) => keys.has(id),
    seal(plaintext, aad) {
      const nonce = randomBytes(12);
      const c = createCipheriv("aes-256-gcm", current, nonce);
      c.setAAD(Buffer.from(aad, "utf8"));
      const body = Buffer.concat([c.update(plaintext, "utf8"), c.final()]);
      return { key_id: currentKeyId, nonce, ciphertext: Buffer.concat([body, c.getAuthTag()]) };
    },
    open(s, aad) {
      const key = keys.get(s.key_id);
      if (!key) throw new KeyringError(`record is encrypted with key ${s.key_id}, which is not configured`);
      if (s.ciphertext.length < 16) throw new KeyringError("ciphertext is truncated");
      const d = createDecipheriv("aes-256-gcm", key, s.nonce);
      d.setAAD(Buffer.from(aad, "utf8"));
      d.setAuthTag(s.ciphertext.subarray(s.ciphertext.length - 16));
      try {
        return Buffer.concat([
          d.update(s.ciphertext.subarray(0, s.ciphertext.length - 16)),
          d.final(),
        ]).toString("utf8");
      } catch {
        throw new KeyringError("record failed authentication: wrong master key or tampered data");
      }
    },
  };
}
