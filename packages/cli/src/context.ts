/**
 * What every command gets: the environment, the two output terminals, and the shared API flags.
 */
import type { ParseArgsConfig } from "node:util";
import { parseArgs } from "node:util";
import type Anthropic from "@anthropic-ai/sdk";
import { type ApiTarget, createClient, resolveTarget } from "./api.js";
import type { CliEnv } from "./config.js";
import { UsageError } from "./errors.js";
import type { Term } from "./term.js";

export interface Ctx {
  env: CliEnv;
  out: Term;
  err: Term;
  /** Registers a Ctrl-C handler for the rest of the command; returns its removal. */
  onInterrupt(fn: () => void): () => void;
}

export const API_OPTIONS = {
  url: { type: "string" },
  "api-key": { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const satisfies NonNullable<ParseArgsConfig["options"]>;

type Parsed<O extends NonNullable<ParseArgsConfig["options"]>> = ReturnType<
  typeof parseArgs<{ args: string[]; options: O; allowPositionals: true; strict: true }>
>;

/** parseArgs with usage errors a person understands (exit 2, pointing at the command's help). */
export function parse<const O extends NonNullable<ParseArgsConfig["options"]>>(
  command: string,
  args: string[],
  options: O,
): Parsed<O> {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (err) {
    const msg =
      err instanceof Error ? err.message.replace(/\. To specify a positional.*$/s, "") : String(err);
    throw new UsageError(msg, command);
  }
}

export interface ApiSession {
  target: ApiTarget;
  client: Anthropic;
}

export function api(
  ctx: Ctx,
  flags: { url?: string | undefined; "api-key"?: string | undefined },
): ApiSession {
  const target = resolveTarget(ctx.env, flags);
  return { target, client: createClient(target) };
}

/** Writes a value as JSON on stdout (one document; lines for streams are written by their commands). */
export function printJson(ctx: Ctx, v: unknown): void {
  ctx.out.write(`${JSON.stringify(v, null, 2)}\n`);
}
