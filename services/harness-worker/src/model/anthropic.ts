/**
 * LlmPort on @anthropic-ai/sdk: `messages.stream` with SDK retries off (the harness retries, so
 * every attempt is visible in the session log), raw stream events mapped to preview callbacks.
 *
 * Tracing is the SDK's own: with an OpenTelemetry SDK registered (startTracing), each call is a
 * CLIENT span (`anthropic.messages.create`, GenAI attributes, metadata only: never prompts or
 * completions) under the harness turn, and the request carries its `traceparent`.
 */
import Anthropic from "@anthropic-ai/sdk";
import { type LlmPort, ModelCallError, type ModelResult } from "./port.js";

export interface AnthropicOptions {
  /** As the SDK reads ANTHROPIC_BASE_URL; undefined = the SDK's default. */
  baseURL?: string | undefined;
  apiKey?: string | undefined;
  authToken?: string | undefined;
  /** Per-request timeout. @default 600_000 */
  timeoutMs?: number;
}

function retryAfterMs(headers: Headers | undefined): number | undefined {
  const ms = headers?.get("retry-after-ms");
  if (ms && Number.isFinite(Number(ms))) return Number(ms);
  const s = headers?.get("retry-after");
  if (s && Number.isFinite(Number(s))) return Number(s) * 1000;
  return undefined;
}

/** Maps whatever the SDK threw to a ModelCallError (or rethrows an abort). */
export function classifyModelError(err: unknown, signal: AbortSignal): unknown {
  if (signal.aborted) return signal.reason ?? err;
  if (err instanceof Anthropic.APIError && typeof err.status === "number") {
    const after = retryAfterMs(err.headers as Headers | undefined);
    const msg = `the model API answered ${err.status}: ${err.message}`.slice(0, 500);
    if (err.status === 529)
      return new ModelCallError("model_overloaded_error", msg, true, after, { cause: err });
    if (err.status === 429)
      return new ModelCallError("model_rate_limited_error", msg, true, after, { cause: err });
    if (err.status >= 500 || err.status === 408 || err.status === 409) {
      return new ModelCallError("model_request_failed_error", msg, true, after, { cause: err });
    }
    return new ModelCallError("model_request_failed_error", msg, false, undefined, { cause: err });
  }
  const msg = err instanceof Error ? err.message : String(err);
  return new ModelCallError(
    "model_request_failed_error",
    `the model request failed: ${msg}`.slice(0, 500),
    true,
    undefined,
    {
      cause: err,
    },
  );
}

export function createAnthropicModel(opts: AnthropicOptions): LlmPort {
  const client = new Anthropic({
    ...(opts.baseURL ? { baseURL: opts.baseURL } : {}),
    ...(opts.apiKey ? { apiKey: opts.apiKey } : { apiKey: null }),
    ...(opts.authToken ? { authToken: opts.authToken } : {}),
    maxRetries: 0,
    timeout: opts.timeoutMs ?? 600_000,
    // Explicit, so the SDK reads no ANTHROPIC_OPEN_TELEMETRY* variable: content stays out of spans.
    openTelemetry: { propagation: true, traces: { enabled: true, contentMode: "metadata_only" } },
  });
  return {
    async stream(req, { signal, observer }): Promise<ModelResult> {
      try {
        const stream = client.messages.stream(req, { signal });
        for await (const ev of stream) {
          if (ev.type === "content_block_start") observer?.onBlockStart?.(ev.index, ev.content_block.type);
          else if (ev.type === "content_block_delta" && ev.delta.type === "text_delta") {
            observer?.onTextDelta?.(ev.index, ev.delta.text);
          }
        }
        const msg = await stream.finalMessage();
        return {
          content: msg.content,
          stopReason: msg.stop_reason,
          usage: {
            input_tokens: msg.usage.input_tokens ?? 0,
            output_tokens: msg.usage.output_tokens ?? 0,
            cache_creation_input_tokens: msg.usage.cache_creation_input_tokens ?? 0,
            cache_read_input_tokens: msg.usage.cache_read_input_tokens ?? 0,
          },
        };
      } catch (err) {
        throw classifyModelError(err, signal);
      }
    },
  };
}
