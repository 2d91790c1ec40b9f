import { describe, expect, it } from "vitest";
import { LineSplitter } from "./lines.js";
import type { ContentBlock } from "./protocol.js";
import { truncateContent } from "./truncate.js";

const textOf = (c: ContentBlock[]) => c.map((b) => (b.type === "text" ? b.text : "")).join("");

describe("truncateContent", () => {
  it("returns a result within budget unchanged", () => {
    const c: ContentBlock[] = [{ type: "text", text: "hello" }];
    expect(truncateContent(c, 5)).toBe(c);
  });

  it("keeps head and tail of a long text and says how much is missing", () => {
    const long = `HEAD${"x".repeat(10_000)}TAIL`;
    const out = textOf(truncateContent([{ type: "text", text: long }], 100));
    expect(out.startsWith("HEAD")).toBe(true);
    expect(out.endsWith("TAIL")).toBe(true);
    expect(out).toMatch(/output truncated: \d+ of 10008 bytes left out \(limit 100 bytes\)/);
    expect(Buffer.byteLength(out)).toBeLessThan(100 + 200);
  });

  it("never splits a multi-byte character", () => {
    const out = textOf(truncateContent([{ type: "text", text: "é".repeat(1000) }], 101));
    expect(out).not.toContain("\uFFFD");
  });

  it("replaces an image that does not fit with a note", () => {
    const out = truncateContent(
      [{ type: "image", source: { type: "base64", media_type: "image/png", data: "A".repeat(500) } }],
      100,
    );
    expect(out).toEqual([{ type: "text", text: expect.stringContaining("image omitted") }]);
  });
});

describe("LineSplitter", () => {
  it("splits lines across chunks", () => {
    const lines: string[] = [];
    const s = new LineSplitter({ maxLineBytes: 100, onLine: (l) => lines.push(l), onOverflow: () => {} });
    s.push(Buffer.from("ab"));
    s.push(Buffer.from("c\nde\n\nf"));
    s.push(Buffer.from("g\n"));
    expect(lines).toEqual(["abc", "de", "", "fg"]);
  });

  it("reports an overlong line once and then drops everything", () => {
    const lines: string[] = [];
    let overflows = 0;
    const s = new LineSplitter({
      maxLineBytes: 4,
      onLine: (l) => lines.push(l),
      onOverflow: () => overflows++,
    });
    s.push(Buffer.from("ok\n12345"));
    s.push(Buffer.from("6\nmore\n"));
    expect(lines).toEqual(["ok"]);
    expect(overflows).toBe(1);
  });
});
