/**
 * Serves the API reference without an API key: the OpenAPI 3.1 document at `/v1/openapi.json`
 * (and `/openapi.json`), and the `/docs` page with its assets.
 *
 * The document is built on first request, when every route is registered, and then kept: routes
 * never change after the gateway starts listening.
 */
import { readFileSync } from "node:fs";
import { AppError } from "@tendon/contracts";
import type { FastifyInstance } from "fastify";
import type { RouteCatalog } from "./catalog.js";
import { ASSETS_PATH, createDocsAssets, DOCS_HEADERS, DOCS_PATH, docsHtml } from "./docs-page.js";
import { buildOpenApiDocument, type OpenApiDocument } from "./document.js";

export const OPENAPI_PATH = "/v1/openapi.json";

const DESCRIPTION = `The Claude Managed Agents API as Tendon serves it, with Tendon's own additions
(environment keys, work queue stats, the egress log). The official \`@anthropic-ai/sdk\` talks to it
with \`baseURL\` set to this gateway.

This document is generated from the gateway's routes and the zod schemas in \`packages/contracts\`
that validate every request and response; the page at [/docs](/docs) renders it.`;

function gatewayVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
    version?: string;
  };
  return pkg.version ?? "0.0.0";
}

/** The gateway's document from its route catalog. */
export function gatewayDocument(catalog: RouteCatalog): OpenApiDocument {
  return buildOpenApiDocument(catalog.routes(), {
    title: "Tendon API",
    version: gatewayVersion(),
    description: DESCRIPTION,
  });
}

export function registerOpenApiRoutes(app: FastifyInstance, catalog: RouteCatalog): void {
  let json: string | undefined;
  const document = () => {
    json ??= JSON.stringify(gatewayDocument(catalog));
    return json;
  };
  const tag = "API reference";
  for (const url of [OPENAPI_PATH, "/openapi.json"]) {
    app.get(
      url,
      {
        config: {
          public: true,
          openapi: {
            summary: url === OPENAPI_PATH ? "Get OpenAPI document" : "Get OpenAPI document (root path)",
            description: "This document. No API key needed.",
            tag,
          },
        },
      },
      async (_req, reply) =>
        reply.header("cache-control", "no-cache").type("application/json; charset=utf-8").send(document()),
    );
  }

  const assets = createDocsAssets();
  app.get(
    DOCS_PATH,
    {
      config: {
        public: true,
        openapi: {
          summary: "API reference page",
          tag,
          contentType: "text/html",
          description: "Renders this document.",
        },
      },
    },
    async (_req, reply) =>
      reply.headers(DOCS_HEADERS).type("text/html; charset=utf-8").send(docsHtml(OPENAPI_PATH)),
  );
  app.get<{ Params: { file: string } }>(
    `${ASSETS_PATH}/:file`,
    {
      config: {
        public: true,
        openapi: { summary: "API reference page assets", tag, contentType: "application/octet-stream" },
      },
    },
    async (req, reply) => {
      const asset = assets.get(req.params.file);
      if (!asset) throw new AppError("not_found", `no docs asset ${req.params.file}`);
      return reply
        .headers(DOCS_HEADERS)
        .header("cache-control", "public, max-age=3600")
        .type(asset.type)
        .send(asset.body);
    },
  );
}
