import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { createKeyring, KeyringError, keyId, parseKey } from "./keyring.js";

describe("keyring", () => {
  const k1 = randomBytes(32);
  const k2 = randomBytes(32);

  it("round-trips, binds the ciphertext to its record, and never reveals the plaintext in the sealed form", () => {
    const ring = createKeyring(k1);
    const sealed = ring.seal("s3cret-value", "vcrd_1");
    expect(sealed.key_id).toBe(keyId(k1));
    expect(sealed.ciphertext.toString("utf8")).not.toContain("s3cret");
    expect(ring.open(sealed, "vcrd_1")).toBe("s3cret-value");
    expect(() => ring.open(sealed, "vcrd_2")).toThrow(KeyringError);
  });

  it("fails closed with the wrong key, an unknown key id, or tampered data", () => {
    const sealed = createKeyring(k1).seal("x", "a");
    const wrong = createKeyring(k2);
    expect(() => wrong.open(sealed, "a")).toThrow(/not configured/);
    expect(() => wrong.open({ ...sealed, key_id: keyId(k2) }, "a")).toThrow(/failed authentication/);
    const tampered = Buffer.from(sealed.ciphertext);
    tampered[0] = (tampered[0] ?? 0) ^ 1;
    expect(() => createKeyring(k1).open({ ...sealed, ciphertext: tampered }, "a")).toThrow(KeyringError);
  });

  it("decrypts with old keys during rotation and encrypts with the current one", () => {
    const sealedOld = createKeyring(k1).seal("x", "a");
    const rotating = createKeyring(k2, [k1]);
    expect(rotating.open(sealedOld, "a")).toBe("x");
    expect(rotating.seal("y", "b").key_id).toBe(keyId(k2));
  });

  it("parses base64 and hex keys of exactly 32 bytes", () => {
    expect(parseKey(k1.toString("base64")).equals(k1)).toBe(true);
    expect(parseKey(k1.toString("hex")).equals(k1)).toBe(true);
    expect(() => parseKey("short")).toThrow(KeyringError);
  });
});
