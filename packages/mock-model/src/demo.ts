/**
 * The built-in demo behaviour for models that have no script (what `tendon dev` talks to when no
 * real API key is set). Deterministic, derived only from the request:
 * - the last user turn holds tool_result blocks → "Got the tool result: <first 200 chars>";
 * - the request has tools and the last user text has the word "tool" → call the first tool with `{}`;
 * - otherwise → "Hello from Tendon's mock model. You said: <last user text, ≤ 500 chars>".
 */
import type { Step } from "./script.js";

/** The parts of a Messages request the demo reads. */
export interface DemoRequest {
  messages: ReadonlyArray<{ role: string; content: unknown }>;
  tools?: ReadonlyArray<{ name?: unknown }> | undefined;
}

type Part = { type?: unknown; text?: unknown; content?: unknown };

function parts(content: unknown): Part[] {
  if (!Array.isArray(content)) return [];
  return content.filter((p): p is Part => typeof p === "object" && p !== null);
}

/** The text of a message content (a string, or the text blocks joined by newlines). */
export function textOf(content: unknown): string {
  if (typeof content === "string") return content;
  return parts(content)
    .filter((p) => p.type === "text" && typeof p.text === "string")
    .map((p) => p.text as string)
    .join("\n");
}

export function demoStep(req: DemoRequest): Step {
  const lastUser = [...req.messages].reverse().find((m) => m.role === "user");
  const content = lastUser?.content;
  const toolResult = parts(content).find((p) => p.type === "tool_result");
  if (toolResult) {
    const text = textOf(toolResult.content).slice(0, 200);
    return { content: [{ type: "text", text: `Got the tool result: ${text}` }] };
  }
  const said = textOf(content);
  const tool = req.tools?.find((t) => typeof t.name === "string" && t.name.length > 0);
  if (tool && /\btools?\b/i.test(said)) {
    return { content: [{ type: "tool_use", name: tool.name as string, input: {} }] };
  }
  return {
    content: [{ type: "text", text: `Hello from Tendon's mock model. You said: ${said.slice(0, 500)}` }],
  };
}
