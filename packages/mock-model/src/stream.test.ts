import { describe, expect, it } from "vitest";
import { chunkText, countDeltas, planContent, splitJson } from "./stream.js";

describe("chunking", () => {
  it("splits text into word-sized chunks that concatenate exactly", () => {
    for (const text of ["", " ", "word", "  lead and trail  ", "a\n\nb\tc", "emoji 🚀 and ünïcode"]) {
      const chunks = chunkText(text);
      expect(chunks.join("")).toBe(text);
      for (const c of chunks) expect(c.trim().split(/\s+/).length).toBeLessThanOrEqual(1);
    }
    expect(chunkText("Hello big world")).toEqual(["Hello ", "big ", "world"]);
  });

  it("splits JSON into at most three pieces on code points", () => {
    for (const json of ["{}", '{"a":1}', JSON.stringify({ s: "🚀🚀🚀🚀", n: [1, 2, 3] })]) {
      const pieces = splitJson(json);
      expect(pieces.join("")).toBe(json);
      expect(pieces.length).toBeLessThanOrEqual(3);
      for (const p of pieces) expect(p).not.toMatch(/^[\uDC00-\uDFFF]|[\uD800-\uDBFF]$/);
    }
  });

  it("plans a signature delta after thinking and counts every delta", () => {
    const plan = planContent([
      { type: "thinking", thinking: "hmm ok" },
      { type: "tool_use", name: "t", input: { a: 1 } },
    ]);
    expect(plan[0]?.deltas.map((d) => d.type)).toEqual([
      "thinking_delta",
      "thinking_delta",
      "signature_delta",
    ]);
    expect(plan[1]?.final).toMatchObject({ type: "tool_use", name: "t", input: { a: 1 } });
    expect(countDeltas(plan)).toBe(6);
  });
});
