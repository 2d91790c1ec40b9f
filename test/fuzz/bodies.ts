/**
 * Valid request bodies for every write route (packages/contracts/src/api/*.ts), as fast-check
 * arbitraries over the fixture's ids, and client event batches for POST /v1/sessions/{id}/events.
 *
 * Invariants:
 * - Every body here passes its route's zod schema; the fuzz mutates them into invalid ones.
 * - Secrets are `sk-fuzz-<24 hex>` and appear only in write-only fields (tokens, secret values,
 *   client secrets, repository authorization tokens), so any response that contains one leaks it.
 * - Event ids in tool results and confirmations are fresh random ids: they never answer a real
 *   pending call, so such events are always refused (see `predictEvents`).
 */
import fc from "fast-check";
import { type Json, obj, unicodeString } from "./mutate.js";

export const SECRET_RE = /sk-fuzz-[0-9a-f]{24}/gi;
const hex = fc.constantFrom(..."0123456789abcdef");
export const secret = fc.string({ unit: hex, minLength: 24, maxLength: 24 }).map((h) => `sk-fuzz-${h}`);
const base62 = fc.constantFrom(..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789");
export const randomId = (prefix: string) =>
  fc.string({ unit: base62, minLength: 24, maxLength: 24 }).map((s) => `${prefix}${s}`);

export interface Fixture {
  /** A scripted model that always answers "ok". */
  okModel: string;
  agentOk: string;
  envMain: string;
  vault: string;
}

const name = fc.oneof(
  { weight: 3, arbitrary: fc.string({ minLength: 1, maxLength: 30 }) },
  { weight: 1, arbitrary: unicodeString.filter((s) => s.length > 0 && s.length <= 256) },
);
const text = fc.oneof(fc.string({ maxLength: 60 }), unicodeString);
const opt = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });

/** Drops `undefined` fields: `{a: undefined}` is not valid JSON. */
function compact(o: Record<string, unknown>): { [k: string]: Json } {
  return obj(Object.entries(o).filter(([, v]) => v !== undefined) as Array<[string, Json]>);
}

const metadata = fc
  .dictionary(
    fc.string({ minLength: 1, maxLength: 10 }).filter((k) => k !== "__proto__"),
    fc.string({ maxLength: 20 }),
    { maxKeys: 4 },
  )
  .map((d) => obj(Object.entries(d)));
const metadataPatch = fc
  .dictionary(
    fc.string({ minLength: 1, maxLength: 10 }).filter((k) => k !== "__proto__"),
    fc.option(fc.string({ maxLength: 20 }), { nil: null }),
    { maxKeys: 4 },
  )
  .map((d) => obj(Object.entries(d)));
const policy = fc.constantFrom("always_allow", "always_ask", "auto").map((type) => ({ type }));
const builtin = fc.constantFrom("bash", "edit", "read", "write", "glob", "grep", "web_fetch", "web_search");

const customTool = fc
  .record({
    name: fc.stringMatching(/^[A-Za-z0-9_-]{1,20}$/),
    description: text,
    props: fc.dictionary(
      fc.string({ minLength: 1, maxLength: 8 }).filter((k) => k !== "__proto__"),
      fc.constantFrom({ type: "string" }, { type: "number" }),
      { maxKeys: 3 },
    ),
  })
  .map(({ name: n, description, props }) =>
    compact({
      type: "custom",
      name: n,
      description,
      input_schema: compact({ type: "object", properties: obj(Object.entries(props)) }),
    }),
  );
const toolset = fc
  .record({
    default_config: opt(fc.record({ enabled: fc.boolean(), permission_policy: policy })),
    configs: opt(
      fc.uniqueArray(fc.record({ name: builtin, enabled: fc.boolean() }), {
        selector: (c) => c.name,
        maxLength: 3,
      }),
    ),
  })
  .map((r) => compact({ type: "agent_toolset_20260401", ...r }) as Json);

const model = (fx: Fixture) =>
  fc.oneof(
    fc.constant<Json>(fx.okModel),
    fc
      .record({
        effort: opt(fc.constantFrom("low", "medium", "high", "xhigh", "max")),
        speed: opt(fc.constantFrom("standard", "fast")),
      })
      .map((r) => compact({ id: fx.okModel, ...r })),
  );

export const agentCreate = (fx: Fixture): fc.Arbitrary<Json> =>
  fc
    .record({
      name,
      model: model(fx),
      description: opt(fc.option(text, { nil: null })),
      system: opt(fc.option(text, { nil: null })),
      tools: opt(fc.array(fc.oneof(toolset, customTool), { maxLength: 2 })),
      skills: opt(fc.constant([])),
      multiagent: opt(fc.constant(null)),
      execution_identity: opt(fc.constant({ type: "service_account" })),
      metadata: opt(metadata),
    })
    .map((r) => {
      // Two custom tools may share a name; keep one toolset at most.
      const tools = r.tools as Array<{ [k: string]: Json }> | undefined;
      if (tools) {
        const seen = new Set<string>();
        r.tools = tools.filter((t) => {
          const k = t.type === "custom" ? `custom:${String(t.name)}` : String(t.type);
          if (seen.has(k)) return false;
          seen.add(k);
          return true;
        });
      }
      return compact(r);
    });

export const agentUpdate = (fx: Fixture): fc.Arbitrary<Json> =>
  fc
    .record({
      name: opt(name),
      system: opt(fc.option(text, { nil: null })),
      description: opt(fc.option(text, { nil: null })),
      model: opt(model(fx)),
      metadata: opt(metadataPatch),
      version: opt(fc.integer({ min: 1, max: 5 })),
    })
    .map(compact);

const networking = fc.oneof(
  fc.constant<Json>({ type: "unrestricted" }),
  fc
    .record({
      allowed_hosts: opt(fc.array(fc.domain(), { maxLength: 3 })),
      allow_package_managers: opt(fc.boolean()),
      allow_mcp_servers: opt(fc.boolean()),
    })
    .map((r) => compact({ type: "limited", ...r })),
);
const cloudConfig = fc
  .record({
    networking: opt(networking),
    packages: opt(fc.record({ pip: fc.array(fc.constantFrom("requests", "numpy"), { maxLength: 2 }) })),
    provisioning: opt(fc.constantFrom("lazy", "eager")),
  })
  .map((r) => compact({ type: "cloud", ...r }));
const envConfig = fc.oneof(cloudConfig, fc.constant<Json>({ type: "self_hosted" }));

export const environmentCreate: fc.Arbitrary<Json> = fc
  .record({
    name,
    config: opt(envConfig),
    description: opt(fc.option(text, { nil: null })),
    metadata: opt(metadata),
    scope: opt(fc.constantFrom("organization", "account")),
  })
  .map(compact);

export const environmentUpdate: fc.Arbitrary<Json> = fc
  .record({
    name: opt(name),
    description: opt(fc.option(text, { nil: null })),
    metadata: opt(metadataPatch),
    config: opt(cloudConfig),
  })
  .map(compact);

const textBlock = text.map((t) =>
  obj([
    ["type", "text"],
    ["text", t],
  ]),
);
const contentBlock = fc.oneof(
  { weight: 4, arbitrary: textBlock },
  {
    weight: 1,
    arbitrary: fc.constant<Json>({
      type: "image",
      source: { type: "base64", media_type: "image/png", data: "iVBORw0KGgo=" },
    }),
  },
  {
    weight: 1,
    arbitrary: text.map<Json>((t) => ({
      type: "document",
      source: { type: "text", media_type: "text/plain", data: t },
      title: "doc",
    })),
  },
);
const userMessage = fc.array(contentBlock, { minLength: 1, maxLength: 3 }).map((content) =>
  obj([
    ["type", "user.message"],
    ["content", content],
  ]),
);

export const sessionCreate = (fx: Fixture): fc.Arbitrary<Json> =>
  fc
    .record({
      agent: fc.oneof(
        fc.constant<Json>(fx.agentOk),
        fc
          .record({ v: opt(fc.constant(1)) })
          .map(({ v }) => compact({ type: "agent", id: fx.agentOk, version: v })),
        fc
          .record({
            system: opt(fc.option(text, { nil: null })),
            tools: opt(fc.array(customTool, { maxLength: 1 })),
          })
          .map((r) => compact({ type: "agent_with_overrides", id: fx.agentOk, ...r })),
      ),
      environment_id: fc.constant(fx.envMain),
      title: opt(fc.option(text, { nil: null })),
      metadata: opt(metadata),
      initial_events: opt(fc.array(userMessage, { maxLength: 1 })),
      resources: opt(
        fc.array(
          fc.record({ token: opt(secret), repo: fc.stringMatching(/^[a-z]{1,8}$/) }).map(({ token, repo }) =>
            compact({
              type: "github_repository",
              url: `https://github.com/fuzz/${repo}`,
              authorization_token: token,
            }),
          ),
          { maxLength: 1 },
        ),
      ),
      vault_ids: opt(fc.constant([fx.vault])),
    })
    .map(compact);

export const sessionUpdate: fc.Arbitrary<Json> = fc
  .record({
    title: opt(fc.option(text, { nil: null })),
    metadata: opt(metadataPatch),
    agent: opt(fc.record({ tools: fc.array(customTool, { maxLength: 1 }) }).map(compact)),
  })
  .map(compact);

export const resourceAdd: fc.Arbitrary<Json> = fc.oneof(
  fc.record({ token: opt(secret), repo: fc.stringMatching(/^[a-z]{1,8}$/) }).map(({ token, repo }) =>
    compact({
      type: "github_repository",
      url: `https://github.com/fuzz/${repo}`,
      authorization_token: token,
    }),
  ),
  fc.constant<Json>({ type: "file", file_id: "file_0123456789" }),
  fc.constant<Json>({ type: "memory_store", memory_store_id: "memstore_0123456789" }),
);

export const resourceUpdate: fc.Arbitrary<Json> = secret.map((s) => obj([["authorization_token", s]]));

export const vaultCreate: fc.Arbitrary<Json> = fc
  .record({ display_name: name, metadata: opt(metadata) })
  .map(compact);
export const vaultUpdate: fc.Arbitrary<Json> = fc
  .record({ display_name: opt(name), metadata: opt(metadataPatch) })
  .map(compact);

const mcpUrl = fc.constantFrom("https://mcp.example.com/sse", "http://127.0.0.1:9/mcp");
export const credentialCreate: fc.Arbitrary<Json> = fc
  .record({
    auth: fc.oneof(
      fc.record({ url: mcpUrl, token: secret }).map(({ url, token }) =>
        obj([
          ["type", "static_bearer"],
          ["mcp_server_url", url],
          ["token", token],
        ]),
      ),
      fc
        .record({
          n: fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,15}$/),
          value: secret,
          hosts: fc.array(fc.domain(), { maxLength: 2 }),
        })
        .map(({ n, value, hosts }) =>
          obj([
            ["type", "environment_variable"],
            ["secret_name", n],
            ["secret_value", value],
            [
              "networking",
              hosts.length > 0 ? { type: "limited", allowed_hosts: hosts } : { type: "unrestricted" },
            ],
          ]),
        ),
      fc
        .record({ url: mcpUrl, access: secret, refresh: secret, client: secret })
        .map(({ url, access, refresh, client }) =>
          obj([
            ["type", "mcp_oauth"],
            ["mcp_server_url", url],
            ["access_token", access],
            [
              "refresh",
              obj([
                ["refresh_token", refresh],
                ["client_id", "client"],
                ["token_endpoint", "https://auth.example.com/token"],
                [
                  "token_endpoint_auth",
                  obj([
                    ["type", "client_secret_post"],
                    ["client_secret", client],
                  ]),
                ],
              ]),
            ],
          ]),
        ),
    ),
    display_name: opt(fc.option(name, { nil: null })),
    metadata: opt(metadata),
  })
  .map(compact);

/** Updates for the fixture's static_bearer credential. */
export const credentialUpdate: fc.Arbitrary<Json> = fc
  .record({
    auth: opt(
      secret.map((token) =>
        obj([
          ["type", "static_bearer"],
          ["token", token],
        ]),
      ),
    ),
    display_name: opt(fc.option(name, { nil: null })),
    metadata: opt(metadataPatch),
  })
  .map(compact);

export const environmentKeyCreate: fc.Arbitrary<Json> = fc.record({ name: opt(name) }).map(compact);

// ---- events ----

const unknownEventId = randomId("sevt_");
const toolResultContent = opt(fc.array(textBlock, { maxLength: 2 }));

/** One client event; tool answers name ids no call has. */
export const clientEvent: fc.Arbitrary<Json> = fc.oneof(
  { weight: 5, arbitrary: userMessage },
  {
    weight: 2,
    arbitrary: fc
      .option(fc.constantFrom<Json>(null, "sthr_0123456789", ""), { nil: undefined })
      .map((t) => compact({ type: "user.interrupt", session_thread_id: t })),
  },
  {
    weight: 2,
    arbitrary: fc
      .record({
        id: unknownEventId,
        content: toolResultContent,
        is_error: opt(fc.option(fc.boolean(), { nil: null })),
      })
      .map(({ id, content, is_error }) =>
        compact({ type: "user.custom_tool_result", custom_tool_use_id: id, content, is_error }),
      ),
  },
  {
    weight: 2,
    arbitrary: fc
      .record({
        id: unknownEventId,
        result: fc.constantFrom("allow", "deny"),
        deny_message: opt(fc.option(text, { nil: null })),
      })
      .map(({ id, result, deny_message }) =>
        compact({ type: "user.tool_confirmation", tool_use_id: id, result, deny_message }),
      ),
  },
  {
    weight: 1,
    arbitrary: fc
      .record({ id: unknownEventId, content: toolResultContent })
      .map(({ id, content }) => compact({ type: "user.tool_result", tool_use_id: id, content })),
  },
  {
    weight: 1,
    arbitrary: fc.constant<Json>({
      type: "user.define_outcome",
      description: "d",
      rubric: { type: "text", content: "c" },
    }),
  },
  {
    weight: 1,
    arbitrary: textBlock.map((b) =>
      obj([
        ["type", "system.message"],
        ["content", [b]],
      ]),
    ),
  },
);

export const eventBatch: fc.Arbitrary<Json> = fc
  .array(clientEvent, { minLength: 1, maxLength: 5 })
  .map((events) => obj([["events", events]]));

/** A batch the server always refuses, whatever the session's state: it has a system.message. */
export const refusedEventBatch: fc.Arbitrary<Json> = fc
  .tuple(fc.array(clientEvent, { maxLength: 3 }), textBlock, fc.nat())
  .map(([events, b, at]) => {
    const bad = obj([
      ["type", "system.message"],
      ["content", [b]],
    ]);
    const all = [...events];
    all.splice(at % (all.length + 1), 0, bad);
    return obj([["events", all]]);
  });

export type SessionKind = "idle" | "requires_action" | "archived";

/**
 * Whether the session-log refuses a schema-valid batch (services/session-log/src/domain/admission.ts),
 * for a session in a cloud environment with no pending call the batch could answer. A refused batch
 * appends nothing: admission plans the whole batch before anything is written.
 */
export function predictEvents(
  events: ReadonlyArray<{ type: string; session_thread_id?: unknown }>,
  kind: SessionKind,
): "refused" | "accepted" {
  if (kind === "archived") return "refused";
  let waiting = kind === "requires_action";
  for (const e of events) {
    switch (e.type) {
      case "user.message":
        if (waiting) return "refused";
        break;
      case "user.interrupt":
        if (e.session_thread_id) return "refused";
        waiting = false;
        break;
      default:
        // Tool answers for unknown ids, user.tool_result outside self_hosted, define_outcome and
        // system.message are always refused.
        return "refused";
    }
  }
  return "accepted";
}
