/**
 * Control-plane routes: agents, environments and sessions (spec §3.1, §3.2, §3.4). Each is a thin
 * mapping from HTTP to one session-log endpoint; validation happens on both sides.
 */
import type { Bus } from "@tendon/bus";
import {
  AgentCreateParams,
  AgentListQuery,
  AgentRetrieveQuery,
  AgentUpdateParams,
  EnvironmentCreateParams,
  EnvironmentListQuery,
  EnvironmentUpdateParams,
  ResourceAddParams,
  ResourceListQuery,
  ResourceUpdateParams,
  SessionCreateParams,
  SessionListQuery,
  SessionLog,
  SessionUpdateParams,
} from "@tendon/contracts";
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import type { Access } from "../http/access.js";
import { asArray } from "../http/query.js";
import { addRoute } from "../http/route.js";

export const IdParam = z.object({ id: z.string().min(1).max(128) });
const ResourceParamsIn = IdParam.extend({ rid: z.string().min(1).max(128) });
const Paging = z.object({
  limit: z.coerce.number().int().min(1).max(100).optional(),
  page: z.string().max(2048).optional(),
});
const SessionListQueryIn = z.preprocess(
  (q) =>
    q && typeof q === "object" ? { ...q, statuses: asArray((q as Record<string, unknown>).statuses) } : q,
  SessionListQuery,
);

export function registerResourceRoutes(app: FastifyInstance, bus: Bus, access: Access): void {
  // ---- agents ----
  addRoute(app, {
    method: "POST",
    url: "/v1/agents",
    body: AgentCreateParams,
    handler: ({ body }) => bus.request(SessionLog.agentsCreate, body),
  });
  addRoute(app, {
    method: "GET",
    url: "/v1/agents",
    query: AgentListQuery,
    handler: ({ query }) => bus.request(SessionLog.agentsList, query),
  });
  addRoute(app, {
    method: "GET",
    url: "/v1/agents/:id",
    params: IdParam,
    query: AgentRetrieveQuery,
    handler: ({ params, query }) =>
      bus.request(SessionLog.agentsRetrieve, {
        id: params.id,
        ...(query.version ? { version: query.version } : {}),
      }),
  });
  addRoute(app, {
    method: "POST",
    url: "/v1/agents/:id",
    params: IdParam,
    body: AgentUpdateParams,
    handler: ({ params, body }) => bus.request(SessionLog.agentsUpdate, { id: params.id, params: body }),
  });
  addRoute(app, {
    method: "POST",
    url: "/v1/agents/:id/archive",
    params: IdParam,
    handler: ({ params }) => bus.request(SessionLog.agentsArchive, { id: params.id }),
  });
  addRoute(app, {
    method: "GET",
    url: "/v1/agents/:id/versions",
    params: IdParam,
    query: Paging,
    handler: ({ params, query }) => bus.request(SessionLog.agentsVersions, { id: params.id, ...query }),
  });

  // ---- environments ----
  addRoute(app, {
    method: "POST",
    url: "/v1/environments",
    body: EnvironmentCreateParams,
    handler: ({ body }) => bus.request(SessionLog.environmentsCreate, body),
  });
  addRoute(app, {
    method: "GET",
    url: "/v1/environments",
    query: EnvironmentListQuery,
    handler: ({ query }) => bus.request(SessionLog.environmentsList, query),
  });
  addRoute(app, {
    method: "GET",
    url: "/v1/environments/:id",
    params: IdParam,
    handler: ({ params }) => bus.request(SessionLog.environmentsRetrieve, params),
  });
  addRoute(app, {
    method: "POST",
    url: "/v1/environments/:id",
    params: IdParam,
    body: EnvironmentUpdateParams,
    handler: ({ params, body }) =>
      bus.request(SessionLog.environmentsUpdate, { id: params.id, params: body }),
  });
  addRoute(app, {
    method: "DELETE",
    url: "/v1/environments/:id",
    params: IdParam,
    handler: ({ params }) => bus.request(SessionLog.environmentsDelete, params),
  });
  addRoute(app, {
    method: "POST",
    url: "/v1/environments/:id/archive",
    params: IdParam,
    handler: ({ params }) => bus.request(SessionLog.environmentsArchive, params),
  });

  // ---- sessions ----
  addRoute(app, {
    method: "POST",
    url: "/v1/sessions",
    body: SessionCreateParams,
    handler: ({ body }) => bus.request(SessionLog.sessionsCreate, body),
  });
  addRoute(app, {
    method: "GET",
    url: "/v1/sessions",
    query: SessionListQueryIn,
    handler: ({ query }) => bus.request(SessionLog.sessionsList, query),
  });
  addRoute(app, {
    method: "GET",
    url: "/v1/sessions/:id",
    params: IdParam,
    allow: (p, params) => access.session(p, params.id),
    handler: ({ params }) => bus.request(SessionLog.sessionsRetrieve, params),
  });
  addRoute(app, {
    method: "POST",
    url: "/v1/sessions/:id",
    params: IdParam,
    body: SessionUpdateParams,
    handler: ({ params, body }) => bus.request(SessionLog.sessionsUpdate, { id: params.id, params: body }),
  });
  addRoute(app, {
    method: "DELETE",
    url: "/v1/sessions/:id",
    params: IdParam,
    handler: ({ params }) => bus.request(SessionLog.sessionsDelete, params),
  });
  addRoute(app, {
    method: "POST",
    url: "/v1/sessions/:id/archive",
    params: IdParam,
    handler: ({ params }) => bus.request(SessionLog.sessionsArchive, params),
  });

  // Session resources (spec §3.6).
  addRoute(app, {
    method: "POST",
    url: "/v1/sessions/:id/resources",
    params: IdParam,
    body: ResourceAddParams,
    handler: ({ params, body }) =>
      bus.request(SessionLog.resourcesAdd, { session_id: params.id, params: body }),
  });
  addRoute(app, {
    method: "GET",
    url: "/v1/sessions/:id/resources",
    params: IdParam,
    query: ResourceListQuery,
    allow: (p, params) => access.session(p, params.id),
    handler: ({ params, query }) =>
      bus.request(SessionLog.resourcesList, { session_id: params.id, ...query }),
  });
  addRoute(app, {
    method: "GET",
    url: "/v1/sessions/:id/resources/:rid",
    params: ResourceParamsIn,
    allow: (p, params) => access.session(p, params.id),
    handler: ({ params }) =>
      bus.request(SessionLog.resourcesRetrieve, { session_id: params.id, id: params.rid }),
  });
  addRoute(app, {
    method: "POST",
    url: "/v1/sessions/:id/resources/:rid",
    params: ResourceParamsIn,
    body: ResourceUpdateParams,
    handler: ({ params, body }) =>
      bus.request(SessionLog.resourcesUpdate, { session_id: params.id, id: params.rid, params: body }),
  });
  addRoute(app, {
    method: "DELETE",
    url: "/v1/sessions/:id/resources/:rid",
    params: ResourceParamsIn,
    handler: ({ params }) =>
      bus.request(SessionLog.resourcesDelete, { session_id: params.id, id: params.rid }),
  });
}
