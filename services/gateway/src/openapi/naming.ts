/**
 * Names in the API reference derived from a route's method and path: the OpenAPI path template,
 * a summary ("List agents"), an operationId ("listAgents") and a tag. Routes may override the
 * summary; nothing here decides which routes exist.
 */

/** `/v1/agents/:id` → `/v1/agents/{id}`; a wildcard `*` becomes `{path}`. */
export function openApiPath(url: string): { path: string; params: string[] } {
  const params: string[] = [];
  const path = url
    .split("/")
    .map((seg) => {
      if (seg === "*") {
        params.push("path");
        return "{path}";
      }
      if (!seg.startsWith(":")) return seg;
      const name = seg.slice(1).replace(/\(.*\)$/, "");
      params.push(name);
      return `{${name}}`;
    })
    .join("/");
  return { path, params };
}

const SINGULAR: Record<string, string> = {
  agents: "agent",
  environments: "environment",
  sessions: "session",
  events: "session event",
  resources: "session resource",
  vaults: "vault",
  credentials: "credential",
  work: "work item",
  versions: "agent version",
  keys: "environment key",
  egress: "egress record",
};

const PLURAL: Record<string, string> = {
  events: "session events",
  resources: "session resources",
  work: "work items",
  versions: "agent versions",
  egress: "egress records",
  keys: "environment keys",
};

const TOP_TAGS: Record<string, string> = {
  agents: "Agents",
  environments: "Environments",
  sessions: "Sessions",
  vaults: "Vaults",
};
const SUB_TAGS: Record<string, string> = {
  events: "Events",
  stream: "Events",
  resources: "Session resources",
  work: "Work queue",
  credentials: "Credentials",
};

/** Probes and metrics, outside the API. */
const OPERATIONS = new Set(["healthz", "readyz", "livez", "metrics"]);

const title = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
const singular = (seg: string) => SINGULAR[seg] ?? seg.replace(/s$/, "");
const plural = (seg: string) => PLURAL[seg] ?? seg;
const isParam = (seg: string | undefined) => seg?.startsWith(":") === true || seg === "*";

/** "Create agent", "Retrieve session resource", "Archive vault": from the REST shape of the path. */
export function deriveSummary(method: string, url: string): string {
  const segs = url.split("/").filter((s) => s !== "" && s !== "v1");
  const last = segs.at(-1) ?? "";
  const prev = segs.at(-2);
  if (!url.startsWith("/v1/")) return `${method} ${openApiPath(url).path}`;
  if (isParam(last)) {
    const noun = singular(prev ?? "");
    const verb = { GET: "Retrieve", POST: "Update", DELETE: "Delete" }[method] ?? method;
    return `${verb} ${noun}`;
  }
  if (segs.length === 1 || isParam(prev)) {
    if (SINGULAR[last]) {
      if (method === "GET") return `List ${plural(last)}`;
      if (method === "POST") return `Create ${singular(last)}`;
    }
    // An action on the item before it: `/v1/agents/:id/archive`.
    const owner = singular(segs.at(-3) ?? "");
    return `${title(last.replace(/_/g, " "))} ${owner}`;
  }
  return `${title(last.replace(/_/g, " "))} ${plural(prev ?? "")}`;
}

/** "List agent versions" → "listAgentVersions". */
export function operationIdOf(summary: string): string {
  const words = summary
    .replace(/[^A-Za-z0-9]+/g, " ")
    .trim()
    .split(" ")
    .filter((w) => w !== "");
  return words.map((w, i) => (i === 0 ? w.toLowerCase() : title(w.toLowerCase()))).join("");
}

/** The group an operation is listed under. */
export function deriveTag(url: string): string {
  const segs = url.split("/").filter((s) => s !== "" && !isParam(s));
  if (segs[0] !== "v1") return segs[0] && !OPERATIONS.has(segs[0]) ? title(segs[0]) : "Operations";
  for (const seg of segs.slice(2).reverse()) {
    const sub = SUB_TAGS[seg];
    if (sub) return sub;
  }
  return TOP_TAGS[segs[1] ?? ""] ?? title(segs[1] ?? "API");
}
