/**
 * Maps MCP `tools/call` results to Tendon's tool-result content (the Messages API block shapes).
 *
 * Invariants:
 * - Output blocks are only `text` or base64 `image`; an image whose media type the Messages API
 *   cannot take, audio, embedded binary resources, resource links and unknown future block kinds
 *   become a `text` block that describes them (binary payloads are never inlined as text).
 * - Embedded text resources keep their text (headed by their URI).
 * - A result with no content blocks but `structuredContent` yields that object as JSON text; the
 *   legacy `{ toolResult }` shape yields its value as JSON text.
 * - `isError` is `true` only when the server said so.
 */
import type { CallToolResult, ContentBlock } from "@modelcontextprotocol/sdk/types.js";

export type McpContentBlock =
  | { type: "text"; text: string }
  | { type: "image"; source: { type: "base64"; media_type: string; data: string } };

export interface McpCallResult {
  content: McpContentBlock[];
  isError: boolean;
}

/** Image media types the Messages API accepts as base64 image sources. */
export const SUPPORTED_IMAGE_TYPES: ReadonlySet<string> = new Set([
  "image/jpeg",
  "image/png",
  "image/gif",
  "image/webp",
]);

/** Approximate decoded size of a base64 payload, for descriptions. */
function base64Bytes(data: string): number {
  const padding = data.endsWith("==") ? 2 : data.endsWith("=") ? 1 : 0;
  return Math.max(0, Math.floor((data.length * 3) / 4) - padding);
}

function text(t: string): McpContentBlock {
  return { type: "text", text: t };
}

/** One MCP content block as a Tendon content block. */
export function mapContentBlock(block: ContentBlock): McpContentBlock {
  switch (block.type) {
    case "text":
      return text(block.text);
    case "image": {
      const mediaType = block.mimeType.toLowerCase();
      if (SUPPORTED_IMAGE_TYPES.has(mediaType)) {
        return { type: "image", source: { type: "base64", media_type: mediaType, data: block.data } };
      }
      return text(
        `[image omitted: unsupported media type ${block.mimeType}, ${base64Bytes(block.data)} bytes]`,
      );
    }
    case "audio":
      return text(`[audio omitted: ${block.mimeType}, ${base64Bytes(block.data)} bytes]`);
    case "resource_link": {
      const desc = block.description ? ` - ${block.description}` : "";
      const mime = block.mimeType ? ` (${block.mimeType})` : "";
      return text(`[resource link: ${block.name} <${block.uri}>${mime}${desc}]`);
    }
    case "resource": {
      const r = block.resource;
      if ("text" in r && typeof r.text === "string") return text(`[resource ${r.uri}]\n${r.text}`);
      const blob = "blob" in r && typeof r.blob === "string" ? r.blob : "";
      const mime = r.mimeType ?? "application/octet-stream";
      return text(`[binary resource omitted: ${r.uri} (${mime}), ${base64Bytes(blob)} bytes]`);
    }
    default: {
      const kind = (block as { type?: unknown }).type;
      return text(`[unsupported MCP content omitted: type ${JSON.stringify(kind ?? null)}]`);
    }
  }
}

/** A whole `tools/call` result (current or legacy shape) as a Tendon tool result. */
export function mapCallToolResult(result: CallToolResult | { toolResult: unknown }): McpCallResult {
  if (!("content" in result) && "toolResult" in result) {
    return { content: [text(JSON.stringify(result.toolResult) ?? "null")], isError: false };
  }
  const r = result as CallToolResult;
  const content = (r.content ?? []).map(mapContentBlock);
  if (content.length === 0 && r.structuredContent !== undefined) {
    content.push(text(JSON.stringify(r.structuredContent)));
  }
  return { content, isError: r.isError === true };
}
