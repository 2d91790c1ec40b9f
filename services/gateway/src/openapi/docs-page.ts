/**
 * The `/docs` page: Swagger UI, served from the `swagger-ui-dist` package through the gateway (no
 * CDN, so it works offline), pointed at the gateway's own OpenAPI document. Only the files named
 * in `ASSETS` can be fetched; they are read on first use and kept in memory.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

export const DOCS_PATH = "/docs";
export const ASSETS_PATH = "/docs/assets";

interface Asset {
  type: string;
  body: Buffer | string;
}

/** Swagger UI files by the name they are served under. */
const SWAGGER_FILES: Record<string, string> = {
  "swagger-ui.css": "text/css; charset=utf-8",
  "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
  "favicon-32x32.png": "image/png",
};

/** Starts Swagger UI on the document the page names (kept out of the HTML for the CSP). */
const INIT_JS = `"use strict";
window.addEventListener("load", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.getAttribute("data-openapi-url"),
    dom_id: "#swagger-ui",
    deepLinking: true,
    docExpansion: "list",
    defaultModelsExpandDepth: 0,
    filter: true,
    persistAuthorization: false,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
});
`;

const PAGE_CSS = `body { margin: 0; font-family: system-ui, sans-serif; }
.tendon-docs-header { padding: 12px 20px; background: #1b1f24; color: #f0f3f6; font-size: 15px; }
.tendon-docs-header a { color: #8cc8ff; margin-left: 12px; }
`;

/** The page's HTML; `openApiUrl` is where the browser fetches the document. */
export function docsHtml(openApiUrl: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Tendon API reference</title>
<link rel="alternate" type="application/json" href="${openApiUrl}" title="OpenAPI 3.1 document">
<link rel="icon" type="image/png" href="${ASSETS_PATH}/favicon-32x32.png">
<link rel="stylesheet" href="${ASSETS_PATH}/swagger-ui.css">
<link rel="stylesheet" href="${ASSETS_PATH}/docs.css">
</head>
<body>
<header class="tendon-docs-header">Tendon API reference<a href="${openApiUrl}">openapi.json</a></header>
<div id="swagger-ui" data-openapi-url="${openApiUrl}">
<noscript>This page needs JavaScript. The OpenAPI document is at <a href="${openApiUrl}">${openApiUrl}</a>.</noscript>
</div>
<script src="${ASSETS_PATH}/swagger-ui-bundle.js"></script>
<script src="${ASSETS_PATH}/init.js"></script>
</body>
</html>
`;
}

/** Response headers for the page and its files: everything from this origin, nothing else. */
export const DOCS_HEADERS = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; font-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
};

export interface DocsAssets {
  /** The file served as `/docs/assets/<name>`, or undefined for any other name. */
  get(name: string): Asset | undefined;
}

export function createDocsAssets(): DocsAssets {
  const dir = path.dirname(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"));
  const cache = new Map<string, Asset>([
    ["init.js", { type: "text/javascript; charset=utf-8", body: INIT_JS }],
    ["docs.css", { type: "text/css; charset=utf-8", body: PAGE_CSS }],
  ]);
  return {
    get(name) {
      const hit = cache.get(name);
      if (hit) return hit;
      const type = Object.hasOwn(SWAGGER_FILES, name) ? SWAGGER_FILES[name] : undefined;
      if (!type) return undefined;
      const asset = { type, body: readFileSync(path.join(dir, name)) };
      cache.set(name, asset);
      return asset;
    },
  };
}
