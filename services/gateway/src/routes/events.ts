/**
 * Session events: send and list (spec §3.5). The stream lives in stream.ts.
 */
import type { Bus } from "@tendon/bus";
import { EventListQuery, PageOf, SendEventsParams, SessionEvent, SessionLog } from "@tendon/contracts";
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

/** Sending the same key again returns the events first sent with it. */
const IdempotencyHeader = z.object({
  "idempotency-key": z
    .string()
    .min(1)
    .max(200)
    .optional()
    .describe("Sending the same key again returns the events first sent with it (longer keys are ignored)."),
});

export function registerEventRoutes(app: FastifyInstance, bus: Bus, access: Access): void {
  addRoute(app, {
    method: "POST",
    url: "/v1/sessions/:id/events",
    params: IdParam,
    body: SendEventsParams,
    response: SessionLog.eventsSend.response,
    doc: { summary: "Send session events", headers: IdempotencyHeader },
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
    response: PageOf(SessionEvent),
    allow: (p, params) => access.session(p, params.id),
    handler: ({ params, query }) => bus.request(SessionLog.eventsList, { session_id: params.id, query }),
  });
}
