/**
 * Random identifiers for test-scoped resources.
 *
 * Invariant: output is lowercase base36 (`[0-9a-z]`), cryptographically random, fixed length,
 * so it is valid in a NATS subject token, a stream name and an unquoted SQL identifier.
 */
import { randomInt } from "node:crypto";

const ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz";

/** `length` random base36 characters (default 10, ~51 bits). */
export function randomBase36(length = 10): string {
  let out = "";
  for (let i = 0; i < length; i++) out += ALPHABET[randomInt(ALPHABET.length)];
  return out;
}
