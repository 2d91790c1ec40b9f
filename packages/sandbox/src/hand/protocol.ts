/**
 * The wire protocol between a provider and the hand runtime inside a sandbox: JSON lines over the hand's
 * stdin (provider → hand) and stdout (hand → provider). Shared by both sides.
 *
 * Messages:
 * - hand → provider: `{type:"ready", pid, node}` once at start; `{type:"result", id, content, is_error}`
 *   for each call; `{type:"pong", id}` for each ping.
 * - provider → hand: `{type:"call", id, name, input, timeout_ms}`; `{type:"ping", id}`;
 *   `{type:"cancel", id}` (the caller aborted the call; the hand answers it with an error result).
 *
 * Invariants:
 * - One message per line; `encodeMessage` never emits a raw newline inside a message.
 * - Everything the hand says is untrusted (sandboxed code runs as the same uid and can write to the
 *   hand's stdout): the provider validates each line with these schemas, caps line length, and treats a
 *   malformed line as the sandbox breaking its protocol.
 * - This module and everything under `hand/` import only `zod`, the SDK and each other: the directory is
 *   bind-mounted into the sandbox on its own.
 */
import { z } from "zod";

export const TextBlockSchema = z.object({ type: z.literal("text"), text: z.string() });
export const ImageBlockSchema = z.object({
  type: z.literal("image"),
  source: z.object({ type: z.literal("base64"), media_type: z.string(), data: z.string() }),
});
export const ContentBlockSchema = z.discriminatedUnion("type", [TextBlockSchema, ImageBlockSchema]);
export const ToolNameSchema = z.enum(["bash", "read", "write", "edit", "glob", "grep"]);

const Id = z.string().min(1).max(256);

export const CallMessageSchema = z.object({
  type: z.literal("call"),
  id: Id,
  name: ToolNameSchema,
  input: z.record(z.string(), z.unknown()),
  timeout_ms: z.number().int().positive(),
});
export const PingMessageSchema = z.object({ type: z.literal("ping"), id: Id });
export const CancelMessageSchema = z.object({ type: z.literal("cancel"), id: Id });
export const ToHandMessageSchema = z.discriminatedUnion("type", [
  CallMessageSchema,
  PingMessageSchema,
  CancelMessageSchema,
]);

export const ReadyMessageSchema = z.object({
  type: z.literal("ready"),
  pid: z.number().int(),
  node: z.string().max(64),
});
export const ResultMessageSchema = z.object({
  type: z.literal("result"),
  id: Id,
  content: z.array(ContentBlockSchema),
  is_error: z.boolean(),
});
export const PongMessageSchema = z.object({ type: z.literal("pong"), id: Id });
export const FromHandMessageSchema = z.discriminatedUnion("type", [
  ReadyMessageSchema,
  ResultMessageSchema,
  PongMessageSchema,
]);

export type ContentBlock = z.infer<typeof ContentBlockSchema>;
export type CallMessage = z.infer<typeof CallMessageSchema>;
export type ToHandMessage = z.infer<typeof ToHandMessageSchema>;
export type FromHandMessage = z.infer<typeof FromHandMessageSchema>;
export type ResultMessage = z.infer<typeof ResultMessageSchema>;

/** What the provider tells the hand at start (its only argument, as JSON). Nothing secret goes here. */
export const HandConfigSchema = z.object({
  workdir: z.string().startsWith("/"),
  maxOutputBytes: z.number().int().positive(),
  toolEnv: z.record(z.string(), z.string()),
  reapStrays: z.boolean(),
  /** Longest request line accepted (a `write` carries the whole file). */
  maxLineBytes: z.number().int().positive(),
  /**
   * Serve the sandbox's way out as a proxy listener on 127.0.0.1:port inside the sandbox: the
   * egress socket bound in (`socket`), or, for providers that cannot bind a host socket into a
   * sandbox (kubernetes), a TCP relay of the provider's (`relay`, "host:port").
   */
  egress: z
    .object({
      socket: z.string().startsWith("/").optional(),
      relay: z
        .string()
        .regex(/^[^:]+:\d{1,5}$/)
        .optional(),
      port: z.number().int().min(1).max(65535),
      /**
       * The proxy's CA, for providers that cannot bind files in: the hand writes it to `certPath`
       * and the system bundle (`systemBundle`, when it exists) plus it to `bundlePath`.
       */
      ca: z
        .object({
          pem: z.string().max(64 * 1024),
          certPath: z.string().startsWith("/"),
          bundlePath: z.string().startsWith("/"),
          systemBundle: z.string().startsWith("/"),
        })
        .optional(),
    })
    .refine((e) => (e.socket === undefined) !== (e.relay === undefined), "exactly one of socket and relay")
    .optional(),
});
export type HandConfig = z.infer<typeof HandConfigSchema>;

/** One line of the protocol, newline included. */
export function encodeMessage(msg: ToHandMessage | FromHandMessage): string {
  return `${JSON.stringify(msg)}\n`;
}

/** Parses one line; returns an error string instead of throwing. */
export function decodeLine<T>(
  schema: z.ZodType<T>,
  line: string,
): { ok: true; value: T } | { ok: false; error: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    return { ok: false, error: "not JSON" };
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) return { ok: false, error: z.prettifyError(parsed.error) };
  return { ok: true, value: parsed.data };
}
