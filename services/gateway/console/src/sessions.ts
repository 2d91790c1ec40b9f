/**
 * The sessions list: status, agent, created/updated, with filters. Status, agent and archived are
 * the API's own filters (`statuses[]`, `agent_id`, `include_archived`); the text search runs over
 * the loaded sessions' id, title, agent name and metadata (the API has no text search). The first
 * page is refreshed every few seconds while the list is shown, so statuses stay current.
 */
import type { Agent, Session, SessionStatus } from "@tendon/contracts";
import { type Api, ApiError } from "./api.js";
import { h, statusBadge, timeCell } from "./dom.js";

const STATUSES: SessionStatus[] = ["running", "idle", "rescheduling", "terminated"];
const REFRESH_MS = 3_000;

interface Filters {
  status: string;
  agentId: string;
  text: string;
  includeArchived: boolean;
}

/** Kept across visits to the list, so going back to it keeps the filters. */
const filters: Filters = { status: "", agentId: "", text: "", includeArchived: false };

export function matchesText(s: Session, text: string): boolean {
  const q = text.trim().toLowerCase();
  if (!q) return true;
  const hay = [s.id, s.title ?? "", s.agent.name, s.agent.id, ...Object.entries(s.metadata).flat()]
    .join("\n")
    .toLowerCase();
  return q.split(/\s+/).every((w) => hay.includes(w));
}

export function renderSessions(root: HTMLElement, api: Api, onAuthError: (e: ApiError) => void): () => void {
  let sessions: Session[] = [];
  let nextPage: string | null = null;
  let disposed = false;
  let generation = 0;

  const statusSel = h(
    "select",
    {
      id: "filter-status",
      "aria-label": "status",
      onchange: () => {
        filters.status = statusSel.value;
        void reload();
      },
    },
    h("option", { value: "" }, "any status"),
    ...STATUSES.map((s) => h("option", { value: s }, s)),
  );
  statusSel.value = filters.status;
  const agentSel = h(
    "select",
    {
      id: "filter-agent",
      "aria-label": "agent",
      onchange: () => {
        filters.agentId = agentSel.value;
        void reload();
      },
    },
    h("option", { value: "" }, "any agent"),
  );
  const text = h("input", {
    id: "filter-text",
    type: "search",
    placeholder: "search title, metadata, id",
    "aria-label": "search",
    value: filters.text,
    oninput: () => {
      filters.text = text.value;
      renderRows();
    },
  });
  const archived = h("input", {
    id: "filter-archived",
    type: "checkbox",
    checked: filters.includeArchived,
    onchange: () => {
      filters.includeArchived = archived.checked;
      void reload();
    },
  });
  const tbody = h("tbody");
  const more = h(
    "button",
    { id: "load-more", type: "button", hidden: true, onclick: () => void loadMore() },
    "Load more",
  );
  const notice = h("p", { class: "notice", id: "list-notice", hidden: true });
  const count = h("span", { class: "count", id: "session-count" });

  root.replaceChildren(
    h(
      "section",
      { class: "sessions" },
      h("div", { class: "toolbar" }, h("h1", {}, "Sessions"), count),
      h(
        "div",
        { class: "filters" },
        statusSel,
        agentSel,
        text,
        h("label", { class: "check" }, archived, " include archived"),
      ),
      notice,
      h(
        "table",
        { id: "sessions", class: "sessions-table" },
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            h("th", {}, "Session"),
            h("th", {}, "Status"),
            h("th", {}, "Agent"),
            h("th", {}, "Created"),
            h("th", {}, "Updated"),
          ),
        ),
        tbody,
      ),
      more,
    ),
  );

  const fail = (e: unknown) => {
    if (e instanceof ApiError && (e.status === 401 || e.status === 403)) return onAuthError(e);
    notice.hidden = false;
    notice.className = "notice error";
    notice.textContent = e instanceof Error ? e.message : String(e);
  };

  function renderRows() {
    const shown = sessions.filter((s) => matchesText(s, filters.text));
    count.textContent = `${shown.length} shown${nextPage ? " (more to load)" : ""}`;
    tbody.replaceChildren(
      ...shown.map((s) =>
        h(
          "tr",
          { class: "session-row", "data-id": s.id, "data-status": s.status },
          h(
            "td",
            {},
            h("a", { href: `#/sessions/${s.id}`, class: "session-link" }, s.title || "(untitled)"),
            h("div", { class: "id" }, s.id),
            Object.keys(s.metadata).length
              ? h(
                  "div",
                  { class: "meta" },
                  ...Object.entries(s.metadata).map(([k, v]) => h("span", { class: "tag" }, `${k}=${v}`)),
                )
              : null,
          ),
          h("td", {}, statusBadge(s.status), s.archived_at ? h("span", { class: "tag" }, "archived") : null),
          h("td", {}, s.agent.name, h("span", { class: "dim" }, ` v${s.agent.version}`)),
          h("td", {}, timeCell(s.created_at)),
          h("td", {}, timeCell(s.updated_at)),
        ),
      ),
    );
    if (shown.length === 0) {
      tbody.append(h("tr", {}, h("td", { colspan: 5, class: "empty" }, "No sessions match.")));
    }
    more.hidden = !nextPage;
  }

  const query = (page?: string) => ({
    ...(filters.status ? { statuses: [filters.status as SessionStatus] } : {}),
    ...(filters.agentId ? { agentId: filters.agentId } : {}),
    includeArchived: filters.includeArchived,
    ...(page ? { page } : {}),
  });

  async function reload() {
    const gen = ++generation;
    try {
      const r = await api.listSessions(query());
      if (disposed || gen !== generation) return;
      sessions = r.data;
      nextPage = r.next_page;
      notice.hidden = true;
      renderRows();
    } catch (e) {
      if (!disposed) fail(e);
    }
  }

  /** Refreshes the first page in place, keeping any further pages already loaded. */
  async function refresh() {
    const gen = generation;
    try {
      const r = await api.listSessions(query());
      if (disposed || gen !== generation) return;
      const fresh = new Map(r.data.map((s) => [s.id, s]));
      const known = new Set(sessions.map((s) => s.id));
      sessions = [...r.data.filter((s) => !known.has(s.id)), ...sessions.map((s) => fresh.get(s.id) ?? s)];
      if (sessions.length <= r.data.length) nextPage = r.next_page;
      renderRows();
    } catch (e) {
      if (!disposed) fail(e);
    }
  }

  async function loadMore() {
    if (!nextPage) return;
    const gen = generation;
    try {
      const r = await api.listSessions(query(nextPage));
      if (disposed || gen !== generation) return;
      const known = new Set(sessions.map((s) => s.id));
      sessions.push(...r.data.filter((s) => !known.has(s.id)));
      nextPage = r.next_page;
      renderRows();
    } catch (e) {
      fail(e);
    }
  }

  api
    .listAgents()
    .then((r) => {
      if (disposed) return;
      const agents: Agent[] = r.data;
      agentSel.append(...agents.map((a) => h("option", { value: a.id }, `${a.name} (${a.id})`)));
      agentSel.value = filters.agentId;
    })
    .catch(fail);
  void reload();
  const timer = setInterval(() => void refresh(), REFRESH_MS);
  return () => {
    disposed = true;
    clearInterval(timer);
  };
}
