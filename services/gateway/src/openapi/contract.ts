/**
 * What a route tells the API reference about itself. `addRoute` stores a route's zod schemas in
 * its fastify route config (`config.contract`); routes registered without `addRoute` (health,
 * the console, the docs page) may describe themselves with `config.openapi`. The document is built
 * from whatever fastify registered, so there is no second list of routes to keep in step.
 */
import type { z } from "zod";

/** Extra documentation for an `addRoute` route; everything else comes from its schemas. */
export interface RouteDoc {
  /** One line for the reference; derived from the method and path when absent. */
  summary?: string;
  description?: string;
  /** Request headers the route reads, besides authentication and the beta header. */
  headers?: z.ZodObject;
  /** The 200 response is a `text/event-stream` whose `data:` lines are this schema. */
  eventStream?: z.ZodType;
  /** The route can answer `204 No Content`; the text says when. */
  noContent?: string;
}

/** The schemas of a route declared with `addRoute` (`services/gateway/src/http/route.ts`). */
export interface RouteContract {
  params?: z.ZodType | undefined;
  query?: z.ZodType | undefined;
  body?: z.ZodType | undefined;
  /** The 200 JSON body. */
  response?: z.ZodType | undefined;
  /** Whether credentials other than API keys may call it (the route has its own `allow`). */
  scoped: boolean;
  doc?: RouteDoc | undefined;
}

/** How a route registered directly on fastify appears in the reference. */
export interface PlainRouteDoc {
  summary?: string;
  description?: string;
  tag?: string;
  /** Content type of the 200 response. @default "application/json" */
  contentType?: string;
}

declare module "fastify" {
  interface FastifyContextConfig {
    /** Served without an API key (the gateway's auth hook skips it). */
    public?: boolean;
    contract?: RouteContract;
    openapi?: PlainRouteDoc;
  }
}
