/**
 * Session events: send and list (spec §3.5). The stream lives in stream.ts.
 */
import type { Bus } from "@tendon/bus";
import { EventListQuery, SendEventsParams, SessionLog } from "@tendon/contracts";
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import type { Access } from "../http/access.js";
import { asArray } from "../http/query.js";
import { addRoute } from "../http/route.js";
import { IdParam } from "./resources.js";

const EventListQueryIn = z.preprocess(
  (q) => (q && typeof q === "object" ? { ...q, types: asArray((q as Record<string, unknown>).types) } : q),
  EventListQuery,
);

export function registerEventRoutes(app: FastifyInstance, bus: Bus, access: Access): void {
  addRoute(app, {
    method: "POST",
    url: "/v1/sessions/:id/events",
    params: IdParam,
    body: SendEventsParams,
    allow: (p, params) => access.session(p, params.id),
    handler: ({ params, body, req }) => {
      const idem = req.headers["idempotency-key"];
      return bus.request(
        SessionLog.eventsSend,
        { session_id: params.id, events: body.events },
        typeof idem === "string" && idem.length > 0 && idem.length <= 200
          ? { headers: { "Idempotency-Key": idem } }
          : {},
      );
    },
  });
  addRoute(app, {
    method: "GET",
    url: "/v1/sessions/:id/events",
    params: IdParam,
    query: EventListQueryIn,
    allow: (p, params) => access.session(p, params.id),
    handler: ({ params, query }) => bus.request(SessionLog.eventsList, { session_id: params.id, query }),
  });
}
