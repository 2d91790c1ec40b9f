import { describe, expect, it } from "vitest";
import { mapCallToolResult, mapContentBlock } from "./content.js";

describe("mapContentBlock", () => {
  it("keeps text and supported base64 images", () => {
    expect(mapContentBlock({ type: "text", text: "hi" })).toEqual({ type: "text", text: "hi" });
    expect(mapContentBlock({ type: "image", data: "aGVsbG8=", mimeType: "image/PNG" })).toEqual({
      type: "image",
      source: { type: "base64", media_type: "image/png", data: "aGVsbG8=" },
    });
  });

  it("describes what the Messages API cannot take, without inlining binary data", () => {
    const svg = mapContentBlock({ type: "image", data: "PHN2Zz4=", mimeType: "image/svg+xml" });
    expect(svg).toEqual({
      type: "text",
      text: "[image omitted: unsupported media type image/svg+xml, 5 bytes]",
    });
    const audio = mapContentBlock({ type: "audio", data: "AAAA", mimeType: "audio/wav" });
    expect(audio).toEqual({ type: "text", text: "[audio omitted: audio/wav, 3 bytes]" });
    const blob = mapContentBlock({
      type: "resource",
      resource: { uri: "file:///a.bin", blob: "AAAAAA==", mimeType: "application/zip" },
    });
    expect(blob).toEqual({
      type: "text",
      text: "[binary resource omitted: file:///a.bin (application/zip), 4 bytes]",
    });
    for (const b of [svg, audio, blob]) expect(JSON.stringify(b)).not.toMatch(/PHN2Zz4=|AAAA/);
  });

  it("keeps embedded text resources and describes resource links and unknown kinds", () => {
    expect(mapContentBlock({ type: "resource", resource: { uri: "file:///r.txt", text: "body" } })).toEqual({
      type: "text",
      text: "[resource file:///r.txt]\nbody",
    });
    expect(
      mapContentBlock({
        type: "resource_link",
        uri: "https://x.test/doc",
        name: "doc",
        mimeType: "text/html",
        description: "the doc",
      }),
    ).toEqual({ type: "text", text: "[resource link: doc <https://x.test/doc> (text/html) - the doc]" });
    const future = { type: "hologram", data: "zzz" } as unknown as Parameters<typeof mapContentBlock>[0];
    expect(mapContentBlock(future)).toEqual({
      type: "text",
      text: '[unsupported MCP content omitted: type "hologram"]',
    });
  });
});

describe("mapCallToolResult", () => {
  it("maps blocks in order and carries isError", () => {
    expect(
      mapCallToolResult({
        content: [
          { type: "text", text: "a" },
          { type: "image", data: "AA==", mimeType: "image/gif" },
        ],
        isError: true,
      }),
    ).toEqual({
      content: [
        { type: "text", text: "a" },
        { type: "image", source: { type: "base64", media_type: "image/gif", data: "AA==" } },
      ],
      isError: true,
    });
    expect(mapCallToolResult({ content: [] })).toEqual({ content: [], isError: false });
  });

  it("falls back to structuredContent and the legacy toolResult shape", () => {
    expect(mapCallToolResult({ content: [], structuredContent: { n: 1 } })).toEqual({
      content: [{ type: "text", text: '{"n":1}' }],
      isError: false,
    });
    expect(mapCallToolResult({ toolResult: [1, 2] })).toEqual({
      content: [{ type: "text", text: "[1,2]" }],
      isError: false,
    });
  });
});
