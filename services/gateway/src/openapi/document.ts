/**
 * Builds the OpenAPI 3.1 document from the route catalog: one operation per registered route and
 * method, its parameters, body and 200 response from the route's zod schemas, the error envelope
 * for every 4xx/5xx, and the two ways to send a key (`x-api-key`, `Authorization: Bearer`).
 *
 * Invariants:
 * - Every route of the catalog is an operation (a route without a contract is still listed).
 * - operationIds are unique; building fails rather than emit two equal ones.
 */
import { ApiErrorEnvelope, type ErrorCode, HTTP_ERRORS } from "@tendon/contracts";
import type { z } from "zod";
import type { CatalogRoute } from "./catalog.js";
import type { RouteContract } from "./contract.js";
import { deriveSummary, deriveTag, openApiPath, operationIdOf } from "./naming.js";
import { createSchemaConverter, type JsonSchema, type SchemaConverter } from "./schemas.js";

/** The beta header the SDK sends on every Managed Agents call. */
export const MANAGED_AGENTS_BETA = "managed-agents-2026-04-01";

export interface DocumentInfo {
  title: string;
  version: string;
  description?: string;
}

export type OpenApiDocument = JsonSchema & { openapi: "3.1.0"; paths: Record<string, JsonSchema> };

const ERROR_RESPONSE = { $ref: "#/components/responses/Error" };
const API_HEADERS = [
  { $ref: "#/components/parameters/AnthropicBeta" },
  { $ref: "#/components/parameters/AnthropicVersion" },
];

export function buildOpenApiDocument(routes: readonly CatalogRoute[], info: DocumentInfo): OpenApiDocument {
  const schemas = createSchemaConverter();
  const paths: Record<string, JsonSchema> = {};
  const operationIds = new Set<string>();
  const tags = new Set<string>();
  // The API first (its tags lead the page), then the gateway's own pages and probes.
  const api = (r: CatalogRoute) => (r.url.startsWith("/v1/") && r.contract ? 0 : 1);
  const sorted = [...routes].sort(
    (a, b) => api(a) - api(b) || a.url.localeCompare(b.url) || a.method.localeCompare(b.method),
  );
  for (const route of sorted) {
    const { path, params } = openApiPath(route.url);
    const op = route.contract
      ? contractOperation(route, route.contract, params, schemas)
      : plainOperation(route, params);
    const id = operationIdOf(String(op.summary));
    if (operationIds.has(id)) throw new Error(`two operations are both "${op.summary}" (${route.url})`);
    operationIds.add(id);
    op.operationId = id;
    tags.add(String((op.tags as string[])[0]));
    if (route.public) op.security = [];
    paths[path] = { ...paths[path], [route.method.toLowerCase()]: op };
  }

  const doc: OpenApiDocument = {
    openapi: "3.1.0",
    info: {
      title: info.title,
      version: info.version,
      ...(info.description ? { description: info.description } : {}),
      license: { name: "Apache-2.0", identifier: "Apache-2.0" },
    },
    servers: [{ url: "/", description: "this gateway" }],
    security: [{ ApiKey: [] }, { Bearer: [] }],
    tags: [...tags].map((name) => ({ name })),
    paths,
    components: {
      responses: { Error: errorResponse(schemas) },
      parameters: {
        AnthropicBeta: {
          name: "anthropic-beta",
          in: "header",
          required: false,
          description: `Sent by the SDK as \`${MANAGED_AGENTS_BETA}\` (comma-joined with other betas). Accepted, not required.`,
          schema: { type: "string", default: MANAGED_AGENTS_BETA },
        },
        AnthropicVersion: {
          name: "anthropic-version",
          in: "header",
          required: false,
          description: "Any value is accepted (the SDK sends `2026-10-21`, curl examples `2023-06-01`).",
          schema: { type: "string" },
        },
      },
      headers: {
        RequestId: {
          description: "The request's id (`req_...`), also in error bodies as `request_id`.",
          schema: { type: "string" },
        },
      },
      securitySchemes: {
        ApiKey: {
          type: "apiKey",
          in: "header",
          name: "x-api-key",
          description: "An API key (`tendon keys create`).",
        },
        Bearer: {
          type: "http",
          scheme: "bearer",
          description:
            "The same key as a bearer token, as the SDK sends it; environment keys and per-work sessions tokens too.",
        },
      },
    },
  };
  (doc.components as JsonSchema).schemas = schemas.finish(doc);
  return doc;
}

function contractOperation(
  route: CatalogRoute,
  c: RouteContract,
  pathParams: string[],
  schemas: SchemaConverter,
): JsonSchema {
  const summary = c.doc?.summary ?? deriveSummary(route.method, route.url);
  const parameters: JsonSchema[] = [
    ...objectParameters(c.params, "path", schemas, pathParams),
    ...objectParameters(c.query, "query", schemas),
    ...objectParameters(c.doc?.headers, "header", schemas),
    ...(route.url.startsWith("/v1/") ? API_HEADERS : []),
  ];
  const ok: JsonSchema = {
    description: "OK",
    headers: { "request-id": { $ref: "#/components/headers/RequestId" } },
  };
  if (c.doc?.eventStream) {
    ok.description =
      "A server-sent event stream: each message has an `event:` line (the type) and a JSON `data:` line; `ping` messages keep it open.";
    // As OpenAPI 3.1 has no item schema for streams, the schema is that of one `data:` line.
    ok.content = { "text/event-stream": { schema: schemas.convert(c.doc.eventStream, "output") } };
  } else if (c.response) {
    ok.content = { "application/json": { schema: schemas.convert(c.response, "output") } };
  }
  const credentials = c.scoped
    ? "An API key, or an environment key or sessions token scoped to this resource."
    : "An API key.";
  const description = [c.doc?.description, `Credentials: ${credentials}`].filter(Boolean).join("\n\n");
  return {
    summary,
    description,
    tags: [deriveTag(route.url)],
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(c.body ? { requestBody: requestBody(c.body, schemas) } : {}),
    responses: {
      "200": ok,
      ...(c.doc?.noContent ? { "204": { description: c.doc.noContent } } : {}),
      "4XX": ERROR_RESPONSE,
      "5XX": ERROR_RESPONSE,
    },
  };
}

function plainOperation(route: CatalogRoute, pathParams: string[]): JsonSchema {
  const d = route.doc;
  const contentType = d?.contentType ?? "application/json";
  return {
    summary: d?.summary ?? deriveSummary(route.method, route.url),
    ...(d?.description ? { description: d.description } : {}),
    tags: [d?.tag ?? deriveTag(route.url)],
    ...(pathParams.length > 0
      ? {
          parameters: pathParams.map((name) => ({
            name,
            in: "path",
            required: true,
            schema: { type: "string" },
          })),
        }
      : {}),
    responses: {
      "200": { description: "OK", content: { [contentType]: { schema: {} } } },
      "4XX": ERROR_RESPONSE,
      "5XX": ERROR_RESPONSE,
    },
  };
}

function requestBody(body: z.ZodType, schemas: SchemaConverter): JsonSchema {
  return {
    // The gateway reads a missing body as `{}`: it is required only if `{}` is not a valid body.
    required: !body.safeParse({}).success,
    content: { "application/json": { schema: schemas.convert(body, "input") } },
  };
}

/** One parameter per property of an object schema (params, query or headers). */
function objectParameters(
  schema: z.ZodType | undefined,
  where: "path" | "query" | "header",
  schemas: SchemaConverter,
  expected: string[] = [],
): JsonSchema[] {
  const out: JsonSchema[] = [];
  const names = new Set<string>();
  if (schema) {
    const json = schemas.inline(schema, "input");
    const props = (json.properties ?? {}) as Record<string, JsonSchema>;
    const required = new Set((json.required ?? []) as string[]);
    for (const [name, { description, ...prop }] of Object.entries(props)) {
      names.add(name);
      const isArray = prop.type === "array";
      const notes = [
        description,
        isArray
          ? `Repeat it for several values: \`${name}[]=a&${name}[]=b\` (or \`${name}=a&${name}=b\`).`
          : undefined,
      ].filter(Boolean);
      out.push({
        name,
        in: where,
        required: where === "path" || required.has(name),
        ...(notes.length > 0 ? { description: notes.join(" ") } : {}),
        ...(isArray ? { style: "form", explode: true } : {}),
        schema: prop,
      });
    }
  }
  // A path parameter the schema does not name is still a parameter.
  for (const name of expected) {
    if (!names.has(name)) out.push({ name, in: "path", required: true, schema: { type: "string" } });
  }
  return out;
}

function errorResponse(schemas: SchemaConverter): JsonSchema {
  const byStatus = new Map<number, string[]>();
  for (const [code, m] of Object.entries(HTTP_ERRORS) as [ErrorCode, (typeof HTTP_ERRORS)[ErrorCode]][]) {
    const list = byStatus.get(m.status) ?? [];
    list.push(`\`${m.type}\` (${code})`);
    byStatus.set(m.status, list);
  }
  const rows = [...byStatus]
    .sort(([a], [b]) => a - b)
    .map(([status, types]) => `| ${status} | ${[...new Set(types)].join(", ")} |`);
  return {
    description: [
      "The error envelope. `error.type` by status (the internal code in parentheses):",
      "",
      "| status | error.type |",
      "|---|---|",
      ...rows,
      "",
      "409s carry `x-should-retry: false`; 429 and 503 carry `retry-after`.",
    ].join("\n"),
    headers: {
      "request-id": { $ref: "#/components/headers/RequestId" },
      "x-should-retry": { description: "`false` on 409s: do not retry.", schema: { type: "string" } },
      "retry-after": { description: "Seconds to wait (429, 503).", schema: { type: "string" } },
    },
    content: { "application/json": { schema: schemas.convert(ApiErrorEnvelope, "output") } },
  };
}
