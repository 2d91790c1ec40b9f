/**
 * The history checker: given every session's full log after a chaos run, what the workload
 * expected of it, and what its clients sent and saw, lists every violation of the invariants a
 * durable session promises. Pure: no I/O, so it is unit-tested on hand-made broken histories.
 *
 * Invariants checked, per session:
 * - `seq`: the log's seqs are exactly 1..n, and event ids are unique.
 * - no duplicated or lost model output: the agent.message texts are exactly the scripted ones, in
 *   order (a model answer appended twice, or dropped, breaks this).
 * - every tool use resolved exactly once, after it: agent.tool_use → one agent.tool_result;
 *   agent.custom_tool_use → one user.custom_tool_result; agent.mcp_tool_use → one
 *   agent.mcp_tool_result; no result for an unknown use; and as many uses of each kind as scripted.
 * - statuses follow the spec's machine (§6.2): idle → running (on input) → idle | rescheduled;
 *   rescheduled → running | idle; idle → idle only to re-list what still requires action;
 *   terminated is final.
 * - the session ends idle with `end_turn`, and its last agent.message is the scripted final answer.
 * - every event a client sent is in the log exactly once (matched by a marker it carried).
 * - SSE: after dedupe by event id, what a client saw is exactly the log from its first event on
 *   (no gap, nothing that is not in the log), however many times it reconnected and backfilled.
 */

export interface LoggedEvent {
  seq: number;
  id: string;
  type: string;
  body: Record<string, unknown>;
}

export interface ClientSent {
  type: string;
  /** A string the event carries (its text, or the tool use id it answers): unique per session. */
  marker: string;
}

export interface SessionHistory {
  sessionId: string;
  log: LoggedEvent[];
  expected: {
    agentTexts: string[];
    finalText: string;
    toolUses: { builtin: number; custom: number; mcp: number };
  };
  clientSent: ClientSent[];
  /** Event ids a client received over SSE (persisted events only), in arrival order, duplicates included. */
  sseIds: string[];
}

export interface Violation {
  sessionId: string;
  rule:
    | "seq"
    | "duplicate"
    | "model_output"
    | "tool_resolution"
    | "status"
    | "final"
    | "client_event"
    | "sse";
  detail: string;
}

const RESULT_OF: Record<string, { result: string; key: string }> = {
  "agent.tool_use": { result: "agent.tool_result", key: "tool_use_id" },
  "agent.custom_tool_use": { result: "user.custom_tool_result", key: "custom_tool_use_id" },
  "agent.mcp_tool_use": { result: "agent.mcp_tool_result", key: "mcp_tool_use_id" },
};

function textOf(body: Record<string, unknown>): string {
  const content = body.content;
  if (!Array.isArray(content)) return "";
  return content
    .map((b) =>
      b && typeof b === "object" && (b as { type?: unknown }).type === "text"
        ? String((b as { text?: unknown }).text)
        : "",
    )
    .join("");
}

export function checkSession(h: SessionHistory): Violation[] {
  const out: Violation[] = [];
  const v = (rule: Violation["rule"], detail: string) => out.push({ sessionId: h.sessionId, rule, detail });
  const log = [...h.log].sort((a, b) => a.seq - b.seq);

  // seq gap-free and unique, ids unique.
  log.forEach((e, i) => {
    if (e.seq !== i + 1) v("seq", `position ${i + 1} holds seq ${e.seq}`);
  });
  const ids = new Set<string>();
  for (const e of log) {
    if (ids.has(e.id)) v("duplicate", `event id ${e.id} appears twice`);
    ids.add(e.id);
  }

  // Model output exactly as scripted.
  const texts = log.filter((e) => e.type === "agent.message").map((e) => textOf(e.body));
  if (JSON.stringify(texts) !== JSON.stringify(h.expected.agentTexts)) {
    v(
      "model_output",
      `agent.message texts ${JSON.stringify(texts)}, expected ${JSON.stringify(h.expected.agentTexts)}`,
    );
  }

  // Tool uses resolved exactly once, after the use.
  const uses = new Map<string, { type: string; seq: number }>();
  const counts = { builtin: 0, custom: 0, mcp: 0 };
  for (const e of log) {
    if (e.type in RESULT_OF) {
      uses.set(e.id, { type: e.type, seq: e.seq });
      if (e.type === "agent.tool_use") counts.builtin++;
      else if (e.type === "agent.custom_tool_use") counts.custom++;
      else counts.mcp++;
    }
  }
  const resolved = new Map<string, number>();
  for (const e of log) {
    const kind = Object.entries(RESULT_OF).find(([, r]) => r.result === e.type);
    if (!kind) continue;
    const [useType, { key }] = kind;
    const useId = String(e.body[key] ?? "");
    const use = uses.get(useId);
    if (!use || use.type !== useType) {
      v("tool_resolution", `${e.type} ${e.id} answers unknown ${useType} ${useId}`);
      continue;
    }
    if (e.seq < use.seq) v("tool_resolution", `${e.type} ${e.id} comes before its use ${useId}`);
    resolved.set(useId, (resolved.get(useId) ?? 0) + 1);
  }
  for (const [id, use] of uses) {
    const n = resolved.get(id) ?? 0;
    if (n !== 1) v("tool_resolution", `${use.type} ${id} resolved ${n} times`);
  }
  for (const k of ["builtin", "custom", "mcp"] as const) {
    if (counts[k] !== h.expected.toolUses[k]) {
      v("duplicate", `${counts[k]} ${k} tool uses, expected ${h.expected.toolUses[k]}`);
    }
  }

  // The status machine.
  let status = "idle";
  let lastStop: string | undefined;
  for (const e of log) {
    if (!e.type.startsWith("session.status_")) continue;
    const next = e.type.slice("session.status_".length);
    const ok =
      status !== "terminated" &&
      ((next === "running" && (status === "idle" || status === "rescheduled")) ||
        (next === "rescheduled" && status === "running") ||
        (next === "idle" &&
          (status === "running" ||
            status === "rescheduled" ||
            (status === "idle" && lastStop === "requires_action"))) ||
        next === "terminated");
    if (!ok) v("status", `seq ${e.seq}: ${status} → ${next}`);
    status = next;
    if (next === "idle")
      lastStop = String((e.body.stop_reason as { type?: unknown } | undefined)?.type ?? "");
  }

  // Ends idle (end_turn) with the scripted final answer.
  const lastStatus = [...log].reverse().find((e) => e.type.startsWith("session.status_"));
  if (lastStatus?.type !== "session.status_idle" || lastStop !== "end_turn") {
    v("final", `last status ${lastStatus?.type ?? "none"} (${lastStop ?? "-"}), expected idle end_turn`);
  }
  if (texts.at(-1) !== h.expected.finalText) {
    v(
      "final",
      `last answer ${JSON.stringify(texts.at(-1))}, expected ${JSON.stringify(h.expected.finalText)}`,
    );
  }

  // Every client-sent event exactly once.
  for (const sent of h.clientSent) {
    const n = log.filter((e) => e.type === sent.type && JSON.stringify(e.body).includes(sent.marker)).length;
    if (n !== 1) v("client_event", `${sent.type} "${sent.marker}" is in the log ${n} times`);
  }

  // SSE: after dedupe, exactly the log from the first event seen, nothing else.
  if (h.sseIds.length > 0) {
    const seen = new Set(h.sseIds);
    for (const id of seen) if (!ids.has(id)) v("sse", `saw ${id}, which is not in the log`);
    const first = log.findIndex((e) => seen.has(e.id));
    if (first >= 0) {
      const missing = log.slice(first).filter((e) => !seen.has(e.id));
      if (missing.length > 0) {
        v(
          "sse",
          `missed ${missing.length} event(s) after seq ${first + 1}: seqs ${missing.map((e) => e.seq).join(",")}`,
        );
      }
    }
  }
  return out;
}

export function checkHistories(histories: SessionHistory[]): {
  violations: Violation[];
  eventsChecked: number;
} {
  return {
    violations: histories.flatMap(checkSession),
    eventsChecked: histories.reduce((n, h) => n + h.log.length, 0),
  };
}
