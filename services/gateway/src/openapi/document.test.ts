/**
 * The OpenAPI document from a small fastify app whose routes are declared the way the gateway
 * declares its own (`addRoute` with contract schemas, plain routes with `config.openapi`): paths,
 * parameters, bodies, responses, components, and the failures that keep it honest.
 */
import { Validator } from "@seriousme/openapi-schema-validator";
import {
  Agent,
  AgentCreateParams,
  AgentListQuery,
  AgentUpdateParams,
  EventListQuery,
  PageOf,
  SessionEvent,
  WorkStopParams,
} from "@tendon/contracts";
import Fastify from "fastify";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { addRoute } from "../http/route.js";
import { createRouteCatalog } from "./catalog.js";
import { buildOpenApiDocument, type OpenApiDocument } from "./document.js";
import type { JsonSchema } from "./schemas.js";

const never = async (): Promise<never> => {
  throw new Error("not called");
};
const Id = z.object({ id: z.string().min(1) });

function sampleApp() {
  const app = Fastify();
  const catalog = createRouteCatalog(app);
  addRoute(app, {
    method: "POST",
    url: "/v1/agents",
    body: AgentCreateParams,
    response: Agent,
    handler: never,
  });
  addRoute(app, {
    method: "GET",
    url: "/v1/agents",
    query: AgentListQuery,
    response: PageOf(Agent),
    handler: never,
  });
  addRoute(app, {
    method: "POST",
    url: "/v1/agents/:id",
    params: Id,
    body: AgentUpdateParams,
    response: Agent,
    handler: never,
  });
  addRoute(app, {
    method: "GET",
    url: "/v1/sessions/:id/events",
    params: Id,
    query: EventListQuery,
    response: PageOf(SessionEvent),
    allow: () => true,
    handler: never,
  });
  addRoute(app, {
    method: "POST",
    url: "/v1/things/:id/stop",
    body: WorkStopParams,
    doc: { summary: "Stop a thing", headers: z.object({ "x-reason": z.string().describe("why") }) },
    handler: never,
  });
  app.get("/healthz", async () => ({ ok: true }));
  app.get("/page", { config: { public: true, openapi: { contentType: "text/html", tag: "Pages" } } }, never);
  return { app, catalog };
}

async function sampleDocument(): Promise<OpenApiDocument> {
  const { app, catalog } = sampleApp();
  await app.ready();
  return buildOpenApiDocument(catalog.routes(), { title: "t", version: "1" });
}

type Op = JsonSchema & {
  parameters?: JsonSchema[];
  requestBody?: JsonSchema;
  responses: Record<string, JsonSchema>;
};
const op = (doc: OpenApiDocument, path: string, method: string) => doc.paths[path]?.[method] as Op;
const components = (doc: OpenApiDocument) =>
  (doc.components as { schemas: Record<string, JsonSchema> }).schemas;

describe("OpenAPI document", () => {
  it("is a valid OpenAPI 3.1 document", async () => {
    const result = await new Validator().validate(await sampleDocument());
    expect(result.errors).toBeUndefined();
    expect(result.valid).toBe(true);
  });

  it("has one operation per route and method, with fastify paths as templates and no HEAD twins", async () => {
    const doc = await sampleDocument();
    const ops = Object.entries(doc.paths).flatMap(([p, item]) => Object.keys(item).map((m) => `${m} ${p}`));
    expect(ops.sort()).toEqual(
      [
        "get /healthz",
        "get /page",
        "get /v1/agents",
        "get /v1/sessions/{id}/events",
        "post /v1/agents",
        "post /v1/agents/{id}",
        "post /v1/things/{id}/stop",
      ].sort(),
    );
    expect(op(doc, "/v1/agents", "post").operationId).toBe("createAgent");
    expect(op(doc, "/v1/agents", "get").operationId).toBe("listAgents");
    expect(op(doc, "/v1/agents/{id}", "post").operationId).toBe("updateAgent");
    expect(op(doc, "/v1/things/{id}/stop", "post").operationId).toBe("stopAThing");
  });

  it("lists path, query and header parameters from the schemas", async () => {
    const doc = await sampleDocument();
    const events = op(doc, "/v1/sessions/{id}/events", "get").parameters ?? [];
    const byName = Object.fromEntries(events.filter((p) => p.name).map((p) => [p.name, p]));
    expect(byName.id).toMatchObject({ in: "path", required: true, schema: { type: "string", minLength: 1 } });
    expect(byName.limit).toMatchObject({
      in: "query",
      required: false,
      schema: { type: "integer", maximum: 1000 },
    });
    expect(byName.types).toMatchObject({
      in: "query",
      style: "form",
      explode: true,
      schema: { type: "array" },
    });
    expect(byName["created_at[gte]"]).toMatchObject({ in: "query", schema: { format: "date-time" } });
    expect(events).toContainEqual({ $ref: "#/components/parameters/AnthropicBeta" });
    // A path parameter without a params schema is still documented.
    const stop = op(doc, "/v1/things/{id}/stop", "post").parameters ?? [];
    expect(stop).toContainEqual({ name: "id", in: "path", required: true, schema: { type: "string" } });
    expect(stop).toContainEqual(
      expect.objectContaining({ name: "x-reason", in: "header", required: true, description: "why" }),
    );
  });

  it("marks a body required only when an empty object would not do", async () => {
    const doc = await sampleDocument();
    expect(op(doc, "/v1/agents", "post").requestBody).toMatchObject({
      required: true,
      content: { "application/json": { schema: { $ref: "#/components/schemas/AgentCreateParams" } } },
    });
    expect(op(doc, "/v1/things/{id}/stop", "post").requestBody?.required).toBe(false);
  });

  it("answers with the response schema, the error envelope for 4xx and 5xx, and security", async () => {
    const doc = await sampleDocument();
    const create = op(doc, "/v1/agents", "post");
    expect(create.responses["200"]).toMatchObject({
      content: { "application/json": { schema: { $ref: "#/components/schemas/Agent" } } },
    });
    expect(create.responses["4XX"]).toEqual({ $ref: "#/components/responses/Error" });
    expect(create.security).toBeUndefined();
    expect(create.description).toContain("An API key.");
    expect(op(doc, "/v1/sessions/{id}/events", "get").description).toContain("environment key");
    expect(op(doc, "/page", "get")).toMatchObject({
      security: [],
      tags: ["Pages"],
      responses: { "200": { content: { "text/html": {} } } },
    });
    expect(op(doc, "/healthz", "get").security).toEqual([]);
    expect(doc.components).toMatchObject({
      securitySchemes: { ApiKey: { type: "apiKey", in: "header", name: "x-api-key" } },
    });
  });

  it("has a component per named contract it reaches, and only those", async () => {
    const doc = await sampleDocument();
    const names = Object.keys(components(doc));
    expect(names).toEqual(
      expect.arrayContaining(["Agent", "AgentCreateParams", "ApiErrorEnvelope", "SessionEvent"]),
    );
    expect(names).not.toContain("HarnessAppend");
    expect(names).not.toContain("Vault");
    // Every ref resolves.
    for (const ref of JSON.stringify(doc).match(/#\/components\/schemas\/[^"]+/g) ?? []) {
      expect(names).toContain(ref.split("/").at(-1));
    }
  });

  it("gives a schema used both ways an input component where its input differs", async () => {
    const doc = await sampleDocument();
    const names = Object.keys(components(doc));
    // `PermissionPolicy` is in agents' params (input: open objects) and in agents (output: closed).
    expect(names).toEqual(expect.arrayContaining(["PermissionPolicy", "PermissionPolicyInput"]));
    expect(JSON.stringify(components(doc).PermissionPolicy)).toContain('"additionalProperties":false');
    expect(JSON.stringify(components(doc).PermissionPolicyInput)).not.toContain("additionalProperties");
  });

  it("documents session events as the union of every event type", async () => {
    const doc = await sampleDocument();
    const event = components(doc).SessionEvent as { oneOf: JsonSchema[] };
    const types = event.oneOf.map((o) => (o.properties as Record<string, JsonSchema>).type?.const);
    expect(types).toEqual(expect.arrayContaining(["user.message", "agent.message", "session.status_idle"]));
    for (const o of event.oneOf)
      expect(o.required).toEqual(expect.arrayContaining(["id", "type", "processed_at"]));
  });

  it("refuses a schema JSON Schema cannot describe, and two operations with the same name", async () => {
    const app = Fastify();
    const catalog = createRouteCatalog(app);
    addRoute(app, {
      method: "GET",
      url: "/v1/odd",
      response: z.object({ at: z.string().transform((s) => new Date(s)) }),
      handler: never,
    });
    await app.ready();
    expect(() => buildOpenApiDocument(catalog.routes(), { title: "t", version: "1" })).toThrow(
      /cannot describe properties\.at/,
    );

    const app2 = Fastify();
    const catalog2 = createRouteCatalog(app2);
    addRoute(app2, { method: "GET", url: "/v1/a", doc: { summary: "Same" }, handler: never });
    addRoute(app2, { method: "GET", url: "/v1/b", doc: { summary: "Same" }, handler: never });
    await app2.ready();
    expect(() => buildOpenApiDocument(catalog2.routes(), { title: "t", version: "1" })).toThrow(
      /both "Same"/,
    );
  });
});
