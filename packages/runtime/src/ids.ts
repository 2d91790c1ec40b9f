/**
 * Id generation as a dependency: `prefix + 24 base62 characters` from the CSPRNG (≈143 bits).
 * Ids carry no ordering; readers sort by their own keys (seq, created_at).
 */
import { randomBytes } from "node:crypto";
import { ID_PREFIX, type IdKind } from "@tendon/contracts";

export interface IdGen {
  next(kind: IdKind): string;
}

const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** `n` unbiased base62 characters. */
export function randomBase62(n: number): string {
  let out = "";
  while (out.length < n) {
    for (const b of randomBytes(n * 2)) {
      if (b < 248) out += ALPHABET[b % 62];
      if (out.length === n) break;
    }
  }
  return out;
}

export const randomIds: IdGen = {
  next: (kind) => `${ID_PREFIX[kind]}${randomBase62(24)}`,
};
