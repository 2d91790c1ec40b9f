/**
 * The route catalog: every route fastify registers, seen through the `onRoute` hook, with the
 * contract or docs its config carries. It is the only input of the OpenAPI document.
 *
 * Invariant: `createRouteCatalog(app)` runs before the first route is added (hooks only see routes
 * registered after them), so nothing the gateway serves is missing from the document.
 */
import type { FastifyInstance } from "fastify";
import "./contract.js";
import type { PlainRouteDoc, RouteContract } from "./contract.js";

/** Paths the gateway's auth hook lets through by URL rather than by route config (app.ts). */
export const UNAUTHENTICATED_PATHS: readonly string[] = ["/healthz", "/readyz"];

export interface CatalogRoute {
  method: string;
  /** The fastify path, e.g. `/v1/agents/:id`. */
  url: string;
  public: boolean;
  contract?: RouteContract | undefined;
  doc?: PlainRouteDoc | undefined;
}

export interface RouteCatalog {
  /** Every route registered so far; HEAD only where it is not the automatic twin of a GET. */
  routes(): CatalogRoute[];
}

export function createRouteCatalog(app: FastifyInstance): RouteCatalog {
  const seen: CatalogRoute[] = [];
  app.addHook("onRoute", (opts) => {
    const methods = Array.isArray(opts.method) ? opts.method : [opts.method];
    const config = opts.config;
    for (const method of methods) {
      seen.push({
        method: method.toUpperCase(),
        url: opts.url,
        public: config?.public === true || UNAUTHENTICATED_PATHS.includes(opts.url),
        contract: config?.contract,
        doc: config?.openapi,
      });
    }
  });
  return {
    routes() {
      const gets = new Set(seen.filter((r) => r.method === "GET").map((r) => r.url));
      return seen.filter((r) => !(r.method === "HEAD" && gets.has(r.url)));
    },
  };
}
