/**
 * Rendering a step as a Messages API reply: content blocks are planned into the deltas a stream
 * would carry, then either written as Server-Sent Events or summed up into one `Message`.
 *
 * Invariants:
 * - Chunking is lossless: text and thinking chunks concatenate to the exact original, and the
 *   `partial_json` pieces of a tool_use concatenate to `JSON.stringify(input)`.
 * - The event sequence is the API's: message_start, then per block content_block_start /
 *   content_block_delta* / content_block_stop, then message_delta and message_stop. Every SSE
 *   message has an `event:` line equal to its data's `type`.
 * - `first_token_ms` delays the first content delta, `per_token_ms` every following one; delays
 *   are abortable and nothing is written once the client has gone.
 * - `dropAfter` (a scripted failure) destroys the socket after that many content deltas have been
 *   flushed, always before message_stop.
 */
import { createHash } from "node:crypto";
import type { ServerResponse } from "node:http";
import { newId } from "./http.js";
import type { Block, StopReason } from "./script.js";
import type { TimerSet } from "./timers.js";

export type Delta =
  | { type: "text_delta"; text: string }
  | { type: "thinking_delta"; thinking: string }
  | { type: "signature_delta"; signature: string }
  | { type: "input_json_delta"; partial_json: string };

export type ContentBlock =
  | { type: "text"; text: string }
  | { type: "thinking"; thinking: string; signature: string }
  | { type: "tool_use"; id: string; name: string; input: Record<string, unknown> };

/** One block as streamed: its `content_block_start` payload, its deltas, and the final block. */
export interface PlannedBlock {
  start: ContentBlock;
  deltas: Delta[];
  final: ContentBlock;
}

/** Word-sized chunks, whitespace kept, so that `chunks.join("") === text`. */
export function chunkText(text: string): string[] {
  return text.match(/\s+|\S+\s*/g) ?? [];
}

/** A few (≤ 3) pieces of a JSON text, split on code points. */
export function splitJson(json: string): string[] {
  const chars = Array.from(json);
  const pieces = chars.length <= 2 ? 1 : 3;
  const size = Math.ceil(chars.length / pieces);
  const out: string[] = [];
  for (let i = 0; i < chars.length; i += size) out.push(chars.slice(i, i + size).join(""));
  return out;
}

/** A stable, plausible-looking signature for a thinking block that has none. */
function defaultSignature(thinking: string): string {
  return createHash("sha256").update(`tendon-mock-model:${thinking}`).digest("base64");
}

/** Plans one block; a tool_use block without an id gets a fresh `toolu_...`. */
function planBlock(block: Block): PlannedBlock {
  if (block.type === "text") {
    return {
      start: { type: "text", text: "" },
      deltas: chunkText(block.text).map((text) => ({ type: "text_delta", text })),
      final: { type: "text", text: block.text },
    };
  }
  if (block.type === "thinking") {
    const signature = block.signature ?? defaultSignature(block.thinking);
    return {
      start: { type: "thinking", thinking: "", signature: "" },
      deltas: [
        ...chunkText(block.thinking).map((thinking): Delta => ({ type: "thinking_delta", thinking })),
        { type: "signature_delta", signature },
      ],
      final: { type: "thinking", thinking: block.thinking, signature },
    };
  }
  const id = block.id ?? newId("toolu_");
  return {
    start: { type: "tool_use", id, name: block.name, input: {} },
    deltas: splitJson(JSON.stringify(block.input)).map((partial_json) => ({
      type: "input_json_delta",
      partial_json,
    })),
    final: { type: "tool_use", id, name: block.name, input: block.input },
  };
}

/** Plans the blocks of a step, in order. */
export function planContent(content: readonly Block[]): PlannedBlock[] {
  return content.map(planBlock);
}

/** Number of content deltas a plan streams (the default output token count). */
export function countDeltas(plan: readonly PlannedBlock[]): number {
  return plan.reduce((n, b) => n + b.deltas.length, 0);
}

/** Everything needed to render one reply. */
export interface Reply {
  model: string;
  plan: PlannedBlock[];
  stopReason: StopReason;
  inputTokens: number;
  outputTokens: number;
  firstTokenMs: number;
  perTokenMs: number;
}

function usage(inputTokens: number, outputTokens: number) {
  return {
    input_tokens: inputTokens,
    output_tokens: outputTokens,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 0,
  };
}

/** The non-streaming `Message` body for a reply. */
export function toMessage(reply: Reply, id: string) {
  return {
    id,
    type: "message",
    role: "assistant",
    model: reply.model,
    content: reply.plan.map((b) => b.final),
    stop_reason: reply.stopReason,
    stop_sequence: null,
    usage: usage(reply.inputTokens, reply.outputTokens),
  };
}

/** A stream event: its `type` is also the SSE `event:` name. */
type SseEvent = { type: string; [key: string]: unknown };

/** Writes one SSE message; resolves once it is flushed to the socket or the socket is gone. */
function send(res: ServerResponse, event: SseEvent): Promise<void> {
  return new Promise((resolve) => {
    if (res.destroyed || res.writableEnded) {
      resolve();
      return;
    }
    const onClose = () => resolve();
    res.once("close", onClose);
    res.write(`event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`, () => {
      res.off("close", onClose);
      resolve();
    });
  });
}

/**
 * Streams `reply` as Server-Sent Events. Returns when the stream ended, was dropped on purpose, or
 * the client went away (`signal` aborted).
 */
export async function streamReply(
  res: ServerResponse,
  reply: Reply,
  opts: { id: string; signal: AbortSignal; timers: TimerSet; dropAfter?: number | undefined },
): Promise<void> {
  const { signal, timers, dropAfter } = opts;
  res.writeHead(200, {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache",
  });
  res.flushHeaders();
  await send(res, {
    type: "message_start",
    message: {
      ...toMessage(reply, opts.id),
      content: [],
      stop_reason: null,
      usage: usage(reply.inputTokens, Math.min(1, reply.outputTokens)),
    },
  });

  let sent = 0;
  const dropIfDue = (): boolean => {
    if (dropAfter === undefined || sent < dropAfter) return false;
    res.destroy();
    return true;
  };
  for (const [index, block] of reply.plan.entries()) {
    if (signal.aborted) return;
    await send(res, { type: "content_block_start", index, content_block: block.start });
    for (const delta of block.deltas) {
      if (dropIfDue()) return;
      const delay = sent === 0 ? reply.firstTokenMs : reply.perTokenMs;
      if (!(await timers.sleep(delay, signal))) return;
      await send(res, { type: "content_block_delta", index, delta });
      sent++;
    }
    await send(res, { type: "content_block_stop", index });
  }
  if (signal.aborted || dropIfDue()) return;
  await send(res, {
    type: "message_delta",
    delta: { stop_reason: reply.stopReason, stop_sequence: null },
    usage: { output_tokens: reply.outputTokens },
  });
  await send(res, { type: "message_stop" });
  res.end();
}
