/**
 * The session page: the session's header (status, agent, environment, resources, usage), a live
 * timeline of model requests and tool calls on a time axis, the event log with expandable
 * messages and tool inputs/outputs (errors highlighted, the hand that served each tool call), the
 * tool calls waiting for confirmation, and a box to send a message or interrupt.
 *
 * Live updates: the event stream is opened first and the history listed once it is open, merged
 * by event id (the recovery the API documents: there is no replay). A stream that ends or fails is
 * reopened with backoff, and the history listed again, so nothing is missed across reconnects.
 */
import type { Environment, Session, SessionEvent } from "@tendon/contracts";
import { type Api, ApiError, type Preview } from "./api.js";
import { h, statusBadge, timeCell } from "./dom.js";
import {
  buildTimeline,
  formatOffset,
  isErrorEvent,
  isToolUse,
  resultFor,
  type Span,
  shorten,
  type Timeline,
  tickStep,
} from "./timeline.js";

type AnyEvent = SessionEvent & Record<string, unknown>;

const STATUS_OF: Record<string, Session["status"]> = {
  "session.status_running": "running",
  "session.status_idle": "idle",
  "session.status_rescheduled": "rescheduling",
  "session.status_terminated": "terminated",
};

const textOf = (content: unknown): string =>
  Array.isArray(content)
    ? content
        .map((b: { type?: string; text?: string }) =>
          b?.type === "text" ? (b.text ?? "") : `[${String(b?.type ?? "block")}]`,
        )
        .join("\n")
    : "";

const json = (v: unknown) => JSON.stringify(v, null, 2);

export function renderSession(
  root: HTMLElement,
  api: Api,
  sessionId: string,
  onAuthError: (e: ApiError) => void,
): () => void {
  const events: SessionEvent[] = [];
  const seen = new Map<string, SessionEvent>();
  const rendered = new Map<string, HTMLLIElement>();
  const previews = new Map<string, { text: string[]; el: HTMLLIElement }>();
  let session: Session | undefined;
  let environment: Environment | undefined;
  let status: Session["status"] | undefined;
  let disposed = false;
  let timeline: Timeline = buildTimeline([], { sessionId });
  const controller = new AbortController();

  // ---- layout ----
  const title = h("h1", { id: "session-title" }, sessionId);
  const statusEl = h("span", { id: "session-status" });
  const live = h("span", { id: "live", class: "live", "data-state": "connecting" }, "connecting");
  const facts = h("dl", { class: "facts", id: "session-facts" });
  const notice = h("p", { class: "notice", id: "session-notice", hidden: true });
  const axis = h("div", { class: "axis" });
  const lanes = h("div", { class: "lanes", id: "timeline-lanes" });
  const markersEl = h("div", { class: "markers" });
  const timelineEl = h(
    "div",
    { class: "timeline", id: "timeline" },
    h("div", { class: "axis-row" }, h("div", { class: "lane-label" }, ""), axis),
    h("div", { class: "marker-row" }, h("div", { class: "lane-label" }, "events"), markersEl),
    lanes,
  );
  const confirmations = h("div", { id: "confirmations", class: "confirmations" });
  const eventList = h("ol", { id: "events", class: "events" });
  const message = h("textarea", {
    id: "message",
    rows: 3,
    placeholder: "Message the agent (Ctrl+Enter to send)",
    "aria-label": "message",
    onkeydown: (ev: Event) => {
      const k = ev as KeyboardEvent;
      if (k.key === "Enter" && (k.ctrlKey || k.metaKey)) {
        ev.preventDefault();
        void sendMessage();
      }
    },
  });
  const sendBtn = h("button", { id: "send", type: "submit", class: "primary" }, "Send");
  const interruptBtn = h(
    "button",
    { id: "interrupt", type: "button", class: "danger", onclick: () => void interrupt() },
    "Interrupt",
  );
  const composerNote = h("span", { id: "composer-note", class: "dim" });
  const composer = h(
    "form",
    {
      id: "composer",
      class: "composer",
      onsubmit: (ev: Event) => {
        ev.preventDefault();
        void sendMessage();
      },
    },
    message,
    h("div", { class: "composer-actions" }, sendBtn, interruptBtn, composerNote),
  );

  root.replaceChildren(
    h(
      "section",
      { class: "session" },
      h("a", { href: "#/", class: "back" }, "← Sessions"),
      h("div", { class: "toolbar" }, title, statusEl, live),
      facts,
      notice,
      h("h2", {}, "Timeline"),
      timelineEl,
      confirmations,
      composer,
      h("h2", {}, "Events"),
      eventList,
    ),
  );

  const fail = (e: unknown) => {
    if (e instanceof ApiError && (e.status === 401 || e.status === 403)) return onAuthError(e);
    notice.hidden = false;
    notice.className = "notice error";
    notice.textContent = e instanceof Error ? e.message : String(e);
  };

  // ---- header ----
  function renderHeader() {
    statusEl.replaceChildren(status ? statusBadge(status) : "");
    interruptBtn.disabled = status !== "running" && status !== "rescheduling";
    sendBtn.disabled = status === "terminated";
    if (!session) return;
    title.textContent = session.title || "(untitled)";
    const resources = session.resources.map((r) => {
      const rr = r as { type: string; url?: string; file_id?: string; mount_path?: string };
      return h(
        "li",
        {},
        `${rr.type} ${rr.url ?? rr.file_id ?? ""}${rr.mount_path ? ` at ${rr.mount_path}` : ""}`,
      );
    });
    const u = session.usage;
    facts.replaceChildren(
      h("dt", {}, "id"),
      h("dd", { class: "id" }, session.id),
      h("dt", {}, "agent"),
      h("dd", {}, `${session.agent.name} v${session.agent.version} · ${session.agent.model.id}`),
      h("dt", {}, "environment"),
      h(
        "dd",
        {},
        environment
          ? `${environment.name} (${environment.config.type}) · ${environment.id}`
          : session.environment_id,
      ),
      h("dt", {}, "hands"),
      h(
        "dd",
        { id: "session-hands" },
        environment?.config.type === "self_hosted"
          ? "builtin tools: the environment's self-hosted worker"
          : `builtin tools: sandbox hand sandbox.${session.id} (provisioned on first use)`,
      ),
      h("dt", {}, "created"),
      h("dd", {}, timeCell(session.created_at)),
      h("dt", {}, "updated"),
      h("dd", {}, timeCell(session.updated_at)),
      h("dt", {}, "usage"),
      h("dd", {}, `${u.input_tokens} in · ${u.output_tokens} out · ${u.cache_read_input_tokens} cache read`),
      ...(Object.keys(session.metadata).length
        ? [
            h("dt", {}, "metadata"),
            h(
              "dd",
              {},
              ...Object.entries(session.metadata).map(([k, v]) => h("span", { class: "tag" }, `${k}=${v}`)),
            ),
          ]
        : []),
      ...(resources.length ? [h("dt", {}, "resources"), h("dd", {}, h("ul", {}, ...resources))] : []),
    );
  }

  // ---- events ----
  function summaryOf(e: AnyEvent): string {
    switch (e.type) {
      case "user.message":
      case "agent.message":
        return shorten(textOf(e.content));
      case "agent.tool_use":
      case "agent.custom_tool_use":
        return `${String(e.name)} ${shorten(JSON.stringify(e.input ?? {}), 70)}`;
      case "agent.mcp_tool_use":
        return `${String(e.mcp_server_name)}/${String(e.name)} ${shorten(JSON.stringify(e.input ?? {}), 60)}`;
      case "span.model_request_end": {
        const u = e.model_usage as { input_tokens?: number; output_tokens?: number } | undefined;
        return `${e.is_error ? "failed" : "done"} · ${u?.input_tokens ?? 0} in / ${u?.output_tokens ?? 0} out`;
      }
      case "session.status_idle":
        return `stop: ${(e.stop_reason as { type?: string } | undefined)?.type ?? "?"}`;
      case "session.error": {
        const err = e.error as { type?: string; message?: string };
        return `${err.type}: ${shorten(err.message ?? "", 70)}`;
      }
      case "user.tool_confirmation":
        return `${String(e.result)}${e.deny_message ? `: ${String(e.deny_message)}` : ""}`;
      default: {
        const target = resultFor(e);
        if (target !== undefined) {
          const use = seen.get(target) as AnyEvent | undefined;
          return `${use ? String(use.name) : target}${e.is_error ? " (error)" : ""}: ${shorten(textOf(e.content), 60)}`;
        }
        return "";
      }
    }
  }

  function bodyOf(e: AnyEvent): HTMLElement {
    const parts: HTMLElement[] = [];
    if (e.type === "user.message" || e.type === "agent.message") {
      parts.push(h("div", { class: "text" }, textOf(e.content)));
    } else if (isToolUse(e)) {
      const served = timeline.servedBy.get(e.id);
      parts.push(h("div", { class: "served-by" }, "served by ", h("strong", {}, served ?? "?")));
      if (e.evaluated_permission)
        parts.push(h("div", { class: "dim" }, `permission: ${String(e.evaluated_permission)}`));
      parts.push(
        h("div", { class: "label" }, "input"),
        h("pre", { class: "tool-input" }, json(e.input ?? {})),
      );
    } else if (resultFor(e) !== undefined) {
      const served = timeline.servedBy.get(resultFor(e) ?? "");
      if (served) parts.push(h("div", { class: "served-by" }, "served by ", h("strong", {}, served)));
      parts.push(h("div", { class: "label" }, e.is_error ? "output (error)" : "output"));
      parts.push(h("pre", { class: "tool-output" }, textOf(e.content) || json(e.content)));
    } else {
      const { id: _id, type: _type, processed_at: _at, ...rest } = e;
      parts.push(h("pre", {}, json(rest)));
    }
    return h("div", { class: "event-body" }, ...parts);
  }

  function eventItem(ev: SessionEvent): HTMLLIElement {
    const e = ev as AnyEvent;
    const start = timeline.start ?? Date.parse(ev.processed_at);
    const offset = Date.parse(ev.processed_at) - start;
    const details = h(
      "details",
      {},
      h(
        "summary",
        {},
        h("span", { class: "offset", title: ev.processed_at }, `+${formatOffset(Math.max(0, offset))}`),
        h("span", { class: "type" }, ev.type),
        h("span", { class: "summary" }, summaryOf(e)),
      ),
    );
    // Bodies are built when first opened: they show who served a call as known by then.
    details.addEventListener("toggle", () => {
      if (details.open && !details.querySelector(".event-body")) details.append(bodyOf(e));
    });
    return h(
      "li",
      {
        class: `event kind-${ev.type.split(".")[0]}${isErrorEvent(ev) ? " is-error" : ""}`,
        "data-type": ev.type,
        "data-id": ev.id,
        id: `ev-${ev.id}`,
      },
      details,
    );
  }

  /**
   * Merges events into the page. The stream delivers in log order, so its events are appended; a
   * history listing is the log's order up to when it was read, so it goes first and any streamed
   * event it does not hold yet (newer) follows it.
   */
  function addEvents(batch: SessionEvent[], source: "stream" | "history" = "stream") {
    const fresh = batch.filter((e) => !seen.has(e.id));
    if (fresh.length === 0 && source === "stream") return;
    for (const e of fresh) seen.set(e.id, e);
    if (source === "history") {
      const listed = new Set(batch.map((e) => e.id));
      const newer = events.filter((e) => !listed.has(e.id));
      events.splice(0, events.length, ...batch, ...newer);
    } else {
      events.push(...fresh);
    }
    timeline = buildTimeline(events, {
      sessionId,
      environmentType: environment?.config.type,
    });
    for (let i = events.length - 1; i >= 0; i--) {
      const st = STATUS_OF[events[i]!.type];
      if (st) {
        status = st;
        break;
      }
    }
    for (const e of fresh) {
      if (e.type === "agent.message") {
        previews.get(e.id)?.el.remove();
        previews.delete(e.id);
      }
      if (e.type === "session.updated" || e.type === "span.model_request_end") void reloadSession();
    }
    // Keep the list in event order; existing items (and their open/closed state) are reused and
    // only moved when out of place.
    let prev: HTMLLIElement | undefined;
    for (const e of events) {
      let li = rendered.get(e.id);
      if (!li) {
        li = eventItem(e);
        rendered.set(e.id, li);
      }
      const inPlace = prev ? prev.nextElementSibling === li : eventList.firstElementChild === li;
      if (!inPlace) {
        if (prev) prev.after(li);
        else eventList.prepend(li);
      }
      prev = li;
    }
    for (const p of previews.values()) eventList.append(p.el);
    renderHeader();
    renderTimeline();
    renderConfirmations();
  }

  function onPreview(p: Preview) {
    if (p.type === "event_start") {
      if (seen.has(p.event.id)) return;
      const text = h("div", { class: "text" });
      const el = h(
        "li",
        { class: "event preview", "data-type": "preview", "data-id": p.event.id },
        h(
          "details",
          { open: true },
          h("summary", {}, h("span", { class: "type" }, "agent.message (writing…)")),
          text,
        ),
      );
      previews.set(p.event.id, { text: [], el });
      eventList.append(el);
    } else {
      const pr = previews.get(p.event_id);
      if (!pr) return;
      pr.text[p.delta.index] = (pr.text[p.delta.index] ?? "") + p.delta.content.text;
      const body = pr.el.querySelector(".text");
      if (body) body.textContent = pr.text.join("\n");
    }
  }

  // ---- timeline ----
  function renderTimeline() {
    const t = timeline;
    const anyOpen = t.spans.some((s) => s.end === null);
    const startAt = t.start ?? Date.now();
    const endAt = Math.max(
      t.last ?? startAt,
      anyOpen || status === "running" ? Date.now() : 0,
      startAt + 1_000,
    );
    const range = endAt - startAt;
    const pct = (at: number) => `${(((at - startAt) / range) * 100).toFixed(3)}%`;
    const step = tickStep(range);
    const ticks: HTMLElement[] = [];
    for (let at = 0; at <= range; at += step) {
      ticks.push(h("span", { class: "tick", style: `left:${pct(startAt + at)}` }, formatOffset(at)));
    }
    axis.replaceChildren(...ticks);
    markersEl.replaceChildren(
      ...t.markers.map((m) =>
        h("button", {
          type: "button",
          class: `marker marker-${m.kind}`,
          style: `left:${pct(m.at)}`,
          title: `${formatOffset(m.at - startAt)} ${m.label}`,
          "aria-label": m.label,
          onclick: () => reveal(m.id),
        }),
      ),
    );
    lanes.replaceChildren(...t.spans.map((s) => spanRow(s, startAt, endAt, pct)));
    if (t.spans.length === 0)
      lanes.append(h("div", { class: "empty" }, "No model requests or tool calls yet."));
  }

  function spanRow(s: Span, startAt: number, endAt: number, pct: (at: number) => string): HTMLElement {
    const end = s.end ?? endAt;
    const width = Math.max(0.4, ((end - s.start) / (endAt - startAt)) * 100);
    const dur = formatOffset(end - s.start);
    const usage = s.usage ? ` · ${s.usage.input_tokens} in / ${s.usage.output_tokens} out` : "";
    return h(
      "div",
      {
        class: `span-row kind-${s.kind} state-${s.state}`,
        "data-span-id": s.id,
        "data-kind": s.kind,
        "data-state": s.state,
      },
      h(
        "div",
        { class: "lane-label" },
        h("span", { class: "span-name", title: s.label }, s.label),
        s.servedBy ? h("span", { class: "served-by", title: `served by ${s.servedBy}` }, s.servedBy) : null,
      ),
      h(
        "div",
        { class: "track" },
        h(
          "button",
          {
            type: "button",
            class: "bar",
            style: `left:${pct(s.start)};width:${width.toFixed(3)}%`,
            title: `${s.label}: ${s.state}, ${dur}${usage}`,
            onclick: () => reveal(s.endEventId ?? s.id),
          },
          h("span", { class: "bar-text" }, `${dur}${s.state === "ok" ? "" : ` · ${s.state}`}`),
        ),
      ),
    );
  }

  function reveal(id: string) {
    const li = rendered.get(id);
    if (!li) return;
    const d = li.querySelector("details");
    if (d && !d.open) d.open = true;
    li.scrollIntoView({ block: "center" });
    li.classList.add("flash");
    setTimeout(() => li.classList.remove("flash"), 1_200);
  }

  // ---- confirmations ----
  function renderConfirmations() {
    const items = timeline.pending.map((p) => {
      const reason = h("input", {
        type: "text",
        class: "deny-message",
        placeholder: "reason (optional, sent on deny)",
      });
      const answer = async (result: "allow" | "deny") => {
        try {
          await api.send(sessionId, [
            {
              type: "user.tool_confirmation",
              tool_use_id: p.toolUseId,
              result,
              ...(result === "deny" && reason.value ? { deny_message: reason.value } : {}),
            },
          ]);
        } catch (e) {
          fail(e);
        }
      };
      return h(
        "div",
        { class: "confirm", "data-tool-use-id": p.toolUseId },
        h("div", {}, h("strong", {}, p.name), " wants to run with:"),
        h("pre", {}, json(p.input)),
        h(
          "div",
          { class: "confirm-actions" },
          h(
            "button",
            { type: "button", class: "allow primary", onclick: () => void answer("allow") },
            "Allow",
          ),
          h("button", { type: "button", class: "deny danger", onclick: () => void answer("deny") }, "Deny"),
          reason,
        ),
      );
    });
    confirmations.replaceChildren(
      ...(items.length ? [h("h2", {}, "Waiting for your confirmation"), ...items] : []),
    );
  }

  // ---- composer ----
  async function sendMessage() {
    const text = message.value.trim();
    if (!text) return;
    sendBtn.disabled = true;
    try {
      // The stored event arrives on the stream, in log order.
      await api.send(sessionId, [{ type: "user.message", content: [{ type: "text", text }] }]);
      message.value = "";
      composerNote.textContent = "sent";
    } catch (e) {
      fail(e);
    } finally {
      sendBtn.disabled = status === "terminated";
    }
  }

  async function interrupt() {
    try {
      await api.send(sessionId, [{ type: "user.interrupt" }]);
      composerNote.textContent = "interrupt sent";
    } catch (e) {
      fail(e);
    }
  }

  // ---- loading and the live stream ----
  async function reloadSession() {
    try {
      session = await api.session(sessionId);
      if (disposed) return;
      if (!status || events.length === 0) status = session.status;
      renderHeader();
    } catch (e) {
      if (!disposed) fail(e);
    }
  }

  async function connect() {
    let backoff = 500;
    while (!disposed) {
      live.dataset.state = "connecting";
      live.textContent = events.length ? "reconnecting" : "connecting";
      try {
        await api.stream(
          sessionId,
          {
            onOpen: () => {
              live.dataset.state = "live";
              live.textContent = "live";
              backoff = 500;
              api
                .allEvents(sessionId, controller.signal)
                .then((all) => {
                  if (!disposed) addEvents(all, "history");
                })
                .catch((e: unknown) => {
                  if (!disposed && !controller.signal.aborted) fail(e);
                });
            },
            onMessage: (type, data) => {
              if (disposed) return;
              if (type === "event_start" || type === "event_delta") onPreview(data as Preview);
              else addEvents([data as SessionEvent]);
            },
          },
          controller.signal,
        );
        if (status === "terminated" || disposed) break;
      } catch (e) {
        if (disposed) return;
        if (e instanceof ApiError && e.status >= 400 && e.status < 500) {
          fail(e);
          live.dataset.state = "closed";
          live.textContent = "closed";
          return;
        }
      }
      live.dataset.state = "connecting";
      live.textContent = "reconnecting";
      await new Promise((r) => setTimeout(r, backoff));
      backoff = Math.min(backoff * 2, 5_000);
    }
    if (!disposed) {
      live.dataset.state = "closed";
      live.textContent = "ended";
    }
  }

  void (async () => {
    try {
      session = await api.session(sessionId);
      status = session.status;
      environment = await api.environment(session.environment_id).catch(() => undefined);
      if (disposed) return;
      renderHeader();
      renderTimeline();
      await connect();
    } catch (e) {
      if (!disposed) fail(e);
    }
  })();

  // Open spans grow with the clock.
  const ticker = setInterval(() => {
    if (timeline.spans.some((s) => s.end === null) || status === "running") renderTimeline();
  }, 250);

  return () => {
    disposed = true;
    clearInterval(ticker);
    controller.abort();
  };
}
