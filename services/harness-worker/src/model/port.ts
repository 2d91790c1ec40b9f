/**
 * The model port: one streamed Messages API call. The harness depends on this interface only;
 * `anthropic.ts` implements it with @anthropic-ai/sdk, and pure unit tests use a scripted fake.
 */
import type Anthropic from "@anthropic-ai/sdk";

export type ModelRequest = Anthropic.MessageCreateParamsNonStreaming;
export type ModelContentBlock = Anthropic.ContentBlock;

export interface ModelResult {
  content: ModelContentBlock[];
  stopReason: string | null;
  usage: {
    input_tokens: number;
    output_tokens: number;
    cache_creation_input_tokens: number;
    cache_read_input_tokens: number;
  };
}

/** Streaming progress, for live previews. Indices are content-block indices of the response. */
export interface ModelStreamObserver {
  onBlockStart?(index: number, type: "text" | "thinking" | "tool_use" | string): void;
  onTextDelta?(index: number, text: string): void;
}

export interface LlmPort {
  stream(
    req: ModelRequest,
    opts: { signal: AbortSignal; observer?: ModelStreamObserver },
  ): Promise<ModelResult>;
}

/** Why a model call failed, in the session.error vocabulary (spec §6.3). */
export type ModelErrorType =
  | "model_overloaded_error"
  | "model_rate_limited_error"
  | "model_request_failed_error";

export class ModelCallError extends Error {
  constructor(
    readonly type: ModelErrorType,
    message: string,
    readonly retryable: boolean,
    /** Server-suggested wait before retrying, when it sent one. */
    readonly retryAfterMs: number | undefined,
    opts?: ErrorOptions,
  ) {
    super(message, opts);
    this.name = new.target.name;
  }
}
