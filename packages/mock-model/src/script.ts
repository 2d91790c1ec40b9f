/**
 * Scripts: the zod schemas a test uses to say what the mock model answers, and the store that picks
 * the step for a request and hands out that step's injected failures.
 *
 * Invariants:
 * - A script is keyed by the request's `model`. The step for a request is chosen by the number of
 *   assistant messages in the request (0 → steps[0], ...), so a retried or re-run request for the
 *   same conversation gets the same step.
 * - Past the last step: `repeat_last` reuses the last step, otherwise the selection is out of range.
 * - Failures of a step are consumed in order, one per attempt of that step; the counter is kept per
 *   model + step index and is reset when the model's script is replaced or deleted.
 */
import { z } from "zod";

/** Upper bound for scripted delays (ms): keeps `setTimeout` in range and tests sane. */
const MAX_DELAY_MS = 3_600_000;

export const TextBlock = z.strictObject({ type: z.literal("text"), text: z.string() });
export const ThinkingBlock = z.strictObject({
  type: z.literal("thinking"),
  thinking: z.string(),
  signature: z.string().optional(),
});
export const ToolUseBlock = z.strictObject({
  type: z.literal("tool_use"),
  name: z.string().min(1),
  input: z.record(z.string(), z.unknown()),
  id: z.string().min(1).optional(),
});

/** A content block the model answers with. `tool_use.id` defaults to a fresh `toolu_...`. */
export const Block = z.discriminatedUnion("type", [TextBlock, ThinkingBlock, ToolUseBlock]);
export type Block = z.infer<typeof Block>;

/** HTTP statuses a step can fail with before it succeeds. */
export const FailureStatus = z.union([z.literal(429), z.literal(500), z.literal(529)]);

/**
 * One injected failure, used for one attempt of a step:
 * - `{status, retry_after_s?}`: answer with the API's error envelope;
 * - `{drop_after_chunks}`: (streaming) send that many content deltas, then destroy the socket;
 * - `{hang: true}`: accept and never answer until the client goes away (or the server stops).
 */
export const Failure = z.union([
  z.strictObject({ status: FailureStatus, retry_after_s: z.number().min(0).max(86_400).optional() }),
  z.strictObject({ drop_after_chunks: z.number().int().min(0) }),
  z.strictObject({ hang: z.literal(true) }),
]);
export type Failure = z.infer<typeof Failure>;

export const StopReason = z.enum(["end_turn", "tool_use", "max_tokens", "stop_sequence", "refusal"]);
export type StopReason = z.infer<typeof StopReason>;

/** One scripted answer. `stop_reason` defaults to `tool_use` when a tool_use block is present. */
export const Step = z.strictObject({
  content: z.array(Block),
  stop_reason: StopReason.optional(),
  usage: z
    .strictObject({
      input_tokens: z.number().int().min(0).optional(),
      output_tokens: z.number().int().min(0).optional(),
    })
    .optional(),
  latency: z
    .strictObject({
      first_token_ms: z.number().min(0).max(MAX_DELAY_MS).optional(),
      per_token_ms: z.number().min(0).max(MAX_DELAY_MS).optional(),
    })
    .optional(),
  failures: z.array(Failure).optional(),
});
export type Step = z.infer<typeof Step>;

/** What a model answers, turn by turn. */
export const Script = z.strictObject({
  steps: z.array(Step).min(1),
  repeat_last: z.boolean().optional(),
});
export type Script = z.infer<typeof Script>;

/** The outcome of choosing a step for a request. */
export type Selection =
  | { kind: "unscripted" }
  | { kind: "out_of_range"; index: number; steps: number }
  | { kind: "step"; index: number; step: Step; failure: Failure | undefined };

/** Holds the scripts and the per-step failure counters. */
export class ScriptStore {
  readonly #scripts = new Map<string, Script>();
  /** model → step index → attempts seen so far. */
  readonly #attempts = new Map<string, Map<number, number>>();

  /** Validates and stores `script` for `model` (throws a ZodError on bad input). */
  set(model: string, script: unknown): void {
    const parsed = Script.parse(script);
    this.#scripts.set(model, parsed);
    this.#attempts.delete(model);
  }

  delete(model: string): void {
    this.#scripts.delete(model);
    this.#attempts.delete(model);
  }

  clear(): void {
    this.#scripts.clear();
    this.#attempts.clear();
  }

  get size(): number {
    return this.#scripts.size;
  }

  /**
   * Chooses the step for a request with `assistantTurns` assistant messages and counts the
   * attempt: the returned `failure` is the one this attempt must suffer, if any is left.
   */
  select(model: string, assistantTurns: number): Selection {
    const script = this.#scripts.get(model);
    if (!script) return { kind: "unscripted" };
    let index = assistantTurns;
    if (index >= script.steps.length) {
      if (!script.repeat_last) return { kind: "out_of_range", index, steps: script.steps.length };
      index = script.steps.length - 1;
    }
    const step = script.steps[index]!;
    let perStep = this.#attempts.get(model);
    if (!perStep) {
      perStep = new Map();
      this.#attempts.set(model, perStep);
    }
    const attempt = perStep.get(index) ?? 0;
    perStep.set(index, attempt + 1);
    return { kind: "step", index, step, failure: step.failures?.[attempt] };
  }
}
