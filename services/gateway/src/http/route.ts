/**
 * One route builder: parses params, query and body with zod into a 400 envelope, authenticates,
 * and hands typed input to the handler. Every route of the API is declared through it.
 */
import { AppError, formatZodError, type Principal } from "@tendon/contracts";
import type { FastifyInstance, FastifyReply, FastifyRequest, HTTPMethods } from "fastify";
import type { z } from "zod";
import type { RouteDoc } from "../openapi/contract.js";

export interface RouteInput<P, Q, B> {
  params: P;
  query: Q;
  body: B;
  principal: Principal;
  req: FastifyRequest;
  reply: FastifyReply;
}

export interface RouteSpec<
  P extends z.ZodType,
  Q extends z.ZodType,
  B extends z.ZodType,
  R extends z.ZodType = z.ZodType,
> {
  method: HTTPMethods;
  url: string;
  params?: P;
  query?: Q;
  body?: B;
  /** The 200 body, for the API reference (`/v1/openapi.json`); the handler must return its type. */
  response?: R;
  /** More for the API reference: a summary, headers it reads, an SSE or 204 response. */
  doc?: RouteDoc;
  /** Who may call it. @default only API keys */
  allow?: (p: Principal, params: z.output<P>) => boolean | Promise<boolean>;
  handler(
    input: RouteInput<z.output<P>, z.output<Q>, z.output<B>>,
  ): Promise<z.output<R> | FastifyReply | undefined>;
}

function parsePart<T extends z.ZodType>(schema: T | undefined, value: unknown, where: string): z.output<T> {
  if (!schema) return undefined as z.output<T>;
  const r = schema.safeParse(value);
  if (!r.success) throw new AppError("invalid_request", formatZodError(r.error, where));
  return r.data;
}

const apiKeysOnly = (p: Principal) => p.type === "api_key";

export function addRoute<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType, R extends z.ZodType>(
  app: FastifyInstance,
  spec: RouteSpec<P, Q, B, R>,
): void {
  const { params, query, body, response, doc } = spec;
  app.route({
    method: spec.method,
    url: spec.url,
    // The schemas travel with the route: the OpenAPI document is built from them.
    config: { contract: { params, query, body, response, doc, scoped: spec.allow !== undefined } },
    handler: async (req, reply) => {
      const principal = req.principal;
      if (!principal) throw new AppError("authentication", "missing API key");
      const params = parsePart(spec.params, req.params, "path");
      if (!(await (spec.allow ?? apiKeysOnly)(principal, params))) {
        throw new AppError("permission", "this credential is not allowed to call this endpoint");
      }
      const query = parsePart(spec.query, req.query, "query");
      // No body at all means "nothing to change"; a JSON `null` is a value, and not an object.
      const body = parsePart(spec.body, req.body === undefined ? {} : req.body, "body");
      const result = await spec.handler({ params, query, body, principal, req, reply });
      if (reply.sent) return reply;
      return reply.code(200).send(result);
    },
  });
}

declare module "fastify" {
  interface FastifyRequest {
    principal?: Principal;
    requestId: string;
  }
}
