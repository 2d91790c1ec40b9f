/**
 * The web console's static files, served at `/console` without an API key (the console asks for a
 * key and sends it on its own API calls, like any other client). The files are read once, at
 * start, from `services/gateway/console/` (HTML, CSS, and the browser modules that `pnpm build`
 * compiles into `console/dist/`); nothing else on disk can be reached through these routes.
 *
 * Responses carry a strict content-security policy: scripts, styles and fetches only from this
 * origin, so a pasted key is only ever sent back to this gateway.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { AppError } from "@tendon/contracts";
import type { FastifyInstance, FastifyReply } from "fastify";
import type { PlainRouteDoc } from "./openapi/contract.js";

/** Route config that the gateway's auth hook reads: these routes need no API key. */
export const PUBLIC_ROUTE = { public: true } as const;

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".svg": "image/svg+xml",
};

const SECURITY_HEADERS = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-cache",
};

interface Asset {
  type: string;
  body: Buffer;
}

/** Where the console's files are, from `src/` (tests) and `dist/` (processes) alike. */
export function consoleRoot(): string {
  return fileURLToPath(new URL("../console/", import.meta.url));
}

/** Reads the console's files: `index.html`, top-level CSS/SVG, and `dist/*.js`. */
export function loadConsoleAssets(root = consoleRoot()): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  const add = (rel: string) => {
    const type = CONTENT_TYPES[path.extname(rel)];
    if (type) assets.set(rel, { type, body: readFileSync(path.join(root, rel)) });
  };
  if (!existsSync(root)) return assets;
  for (const f of readdirSync(root)) if (f === "index.html" || /\.(css|svg)$/.test(f)) add(f);
  const dist = path.join(root, "dist");
  if (existsSync(dist)) for (const f of readdirSync(dist)) if (f.endsWith(".js")) add(`dist/${f}`);
  return assets;
}

export function registerConsoleRoutes(app: FastifyInstance, assets = loadConsoleAssets()): void {
  const send = (rel: string, reply: FastifyReply) => {
    const a = assets.get(rel);
    if (!a) throw new AppError("not_found", `no console file ${rel}`);
    return reply.code(200).headers(SECURITY_HEADERS).type(a.type).send(a.body);
  };
  const doc = (summary: string): PlainRouteDoc => ({
    summary,
    tag: "Console",
    contentType: "text/html",
    description: "The web console's static files; served without an API key (its API calls need one).",
  });
  app.get(
    "/console",
    { config: { ...PUBLIC_ROUTE, openapi: doc("The web console") } },
    async (_req, reply) => {
      if (!assets.has("index.html")) {
        throw new AppError("not_found", "the console is not built: run pnpm build");
      }
      return send("index.html", reply);
    },
  );
  const assetDoc = { ...doc("The web console's modules and stylesheet"), contentType: "text/javascript" };
  app.get<{ Params: { "*": string } }>(
    "/console/*",
    { config: { ...PUBLIC_ROUTE, openapi: assetDoc } },
    async (req, reply) => {
      const rel = req.params["*"];
      // Deep links (`/console/sessions/...`) get the page; the page routes on its hash.
      return send(rel === "" || !assets.has(rel) ? (rel.includes(".") ? rel : "index.html") : rel, reply);
    },
  );
}
