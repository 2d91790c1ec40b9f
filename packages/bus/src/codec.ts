/** JSON over NATS: bytes in, bytes out. */
const enc = new TextEncoder();
const dec = new TextDecoder();

export function encodeJson(v: unknown): Uint8Array {
  return enc.encode(JSON.stringify(v));
}

export function decodeJson(b: Uint8Array): unknown {
  return JSON.parse(dec.decode(b));
}
