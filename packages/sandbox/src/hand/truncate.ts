/**
 * Caps a tool result at a byte budget. Used by the hand before it answers, and again by the provider,
 * which does not trust the hand.
 *
 * Invariants:
 * - The text and image data of the returned blocks together stay within `maxBytes` (UTF-8), plus the
 *   length of the notes this function adds (each under 200 bytes).
 * - A cut text keeps its head and its tail (errors tend to be at the end of a build log) and says how
 *   much was left out; it never splits a UTF-8 sequence.
 * - An image that does not fit is replaced by a text note, never cut.
 * - A result within budget is returned unchanged (same object).
 */
import type { ContentBlock } from "./protocol.js";

/** Cuts `buf` to at most `n` bytes without ending inside a multi-byte character. */
function headBytes(buf: Buffer, n: number): string {
  let end = Math.min(n, buf.length);
  while (end > 0 && end < buf.length && (buf[end]! & 0xc0) === 0x80) end--;
  return buf.subarray(0, end).toString("utf8");
}

/** The last at most `n` bytes of `buf`, starting on a character boundary. */
function tailBytes(buf: Buffer, n: number): string {
  let start = Math.max(0, buf.length - n);
  while (start < buf.length && (buf[start]! & 0xc0) === 0x80) start++;
  return buf.subarray(start).toString("utf8");
}

function blockBytes(block: ContentBlock): number {
  return block.type === "text" ? Buffer.byteLength(block.text, "utf8") : block.source.data.length;
}

export function truncateContent(content: ContentBlock[], maxBytes: number): ContentBlock[] {
  const total = content.reduce((n, b) => n + blockBytes(b), 0);
  if (total <= maxBytes) return content;
  let budget = maxBytes;
  const out: ContentBlock[] = [];
  for (const block of content) {
    const size = blockBytes(block);
    if (size <= budget) {
      out.push(block);
      budget -= size;
      continue;
    }
    if (block.type === "image") {
      out.push({
        type: "text",
        text: `[image omitted: ${size} bytes of data exceed the ${maxBytes}-byte output limit]`,
      });
      continue;
    }
    const buf = Buffer.from(block.text, "utf8");
    const head = headBytes(buf, Math.ceil(budget / 2));
    const tail = tailBytes(buf, budget - Buffer.byteLength(head, "utf8"));
    const omitted = size - Buffer.byteLength(head, "utf8") - Buffer.byteLength(tail, "utf8");
    out.push({
      type: "text",
      text: `${head}\n[output truncated: ${omitted} of ${size} bytes left out (limit ${maxBytes} bytes)]\n${tail}`,
    });
    budget = 0;
  }
  return out;
}
