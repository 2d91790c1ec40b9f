/**
 * Control-plane routes: agents, environments and sessions (spec §3.1, §3.2, §3.4). Each is a thin
 * mapping from HTTP to one session-log endpoint; validation happens on both sides.
 */
import type { Bus } from "@tendon/bus";
import {
  Agent,
  AgentCreateParams,
  AgentListQuery,
  AgentRetrieveQuery,
  AgentUpdateParams,
  Environment,
  EnvironmentCreateParams,
  EnvironmentDeleted,
  EnvironmentListQuery,
  EnvironmentUpdateParams,
  PageOf,
  ResourceAddParams,
  ResourceDeleted,
  ResourceListQuery,
  ResourceUpdateParams,
  Session,
  SessionCreateParams,
  SessionDeleted,
  SessionListQuery,
  SessionLog,
  SessionPage,
  SessionResource,
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
    response: Agent,
    handler: ({ body }) => bus.request(SessionLog.agentsCreate, body),
  });
  addRoute(app, {
    method: "GET",
    url: "/v1/agents",
    query: AgentListQuery,
    response: PageOf(Agent),
    handler: ({ query }) => bus.request(SessionLog.agentsList, query),
  });
  addRoute(app, {
    method: "GET",
    url: "/v1/agents/:id",
    params: IdParam,
    query: AgentRetrieveQuery,
    response: Agent,
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
    response: Agent,
    handler: ({ params, body }) => bus.request(SessionLog.agentsUpdate, { id: params.id, params: body }),
  });
  addRoute(app, {
    method: "POST",
    url: "/v1/agents/:id/archive",
    params: IdParam,
    response: Agent,
    handler: ({ params }) => bus.request(SessionLog.agentsArchive, { id: params.id }),
  });
  addRoute(app, {
    method: "GET",
    url: "/v1/agents/:id/versions",
    params: IdParam,
    query: Paging,
    response: PageOf(Agent),
    handler: ({ params, query }) => bus.request(SessionLog.agentsVersions, { id: params.id, ...query }),
  });

  // ---- environments ----
  addRoute(app, {
    method: "POST",
    url: "/v1/environments",
    body: EnvironmentCreateParams,
    response: Environment,
    handler: ({ body }) => bus.request(SessionLog.environmentsCreate, body),
  });
  addRoute(app, {
    method: "GET",
    url: "/v1/environments",
    query: EnvironmentListQuery,
    response: PageOf(Environment),
    handler: ({ query }) => bus.request(SessionLog.environmentsList, query),
  });
  addRoute(app, {
    method: "GET",
    url: "/v1/environments/:id",
    params: IdParam,
    response: Environment,
    handler: ({ params }) => bus.request(SessionLog.environmentsRetrieve, params),
  });
  addRoute(app, {
    method: "POST",
    url: "/v1/environments/:id",
    params: IdParam,
    body: EnvironmentUpdateParams,
    response: Environment,
    handler: ({ params, body }) =>
      bus.request(SessionLog.environmentsUpdate, { id: params.id, params: body }),
  });
  addRoute(app, {
    method: "DELETE",
    url: "/v1/environments/:id",
    params: IdParam,
    response: EnvironmentDeleted,
    handler: ({ params }) => bus.request(SessionLog.environmentsDelete, params),
  });
  addRoute(app, {
    method: "POST",
    url: "/v1/environments/:id/archive",
    params: IdParam,
    response: Environment,
    handler: ({ params }) => bus.request(SessionLog.environmentsArchive, params),
  });

  // ---- sessions ----
  addRoute(app, {
    method: "POST",
    url: "/v1/sessions",
    body: SessionCreateParams,
    response: Session,
    handler: ({ body }) => bus.request(SessionLog.sessionsCreate, body),
  });
  addRoute(app, {
    method: "GET",
    url: "/v1/sessions",
    query: SessionListQueryIn,
    response: SessionPage,
    handler: ({ query }) => bus.request(SessionLog.sessionsList, query),
  });
  addRoute(app, {
    method: "GET",
    url: "/v1/sessions/:id",
    params: IdParam,
    response: Session,
    allow: (p, params) => access.session(p, params.id),
    handler: ({ params }) => bus.request(SessionLog.sessionsRetrieve, params),
  });
  addRoute(app, {
    method: "POST",
    url: "/v1/sessions/:id",
    params: IdParam,
    body: SessionUpdateParams,
    response: Session,
    handler: ({ params, body }) => bus.request(SessionLog.sessionsUpdate, { id: params.id, params: body }),
  });
  addRoute(app, {
    method: "DELETE",
    url: "/v1/sessions/:id",
    params: IdParam,
    response: SessionDeleted,
    handler: ({ params }) => bus.request(SessionLog.sessionsDelete, params),
  });
  addRoute(app, {
    method: "POST",
    url: "/v1/sessions/:id/archive",
    params: IdParam,
    response: Session,
    handler: ({ params }) => bus.request(SessionLog.sessionsArchive, params),
  });

  // Session resources (spec §3.6).
  addRoute(app, {
    method: "POST",
    url: "/v1/sessions/:id/resources",
    params: IdParam,
    body: ResourceAddParams,
    response: SessionResource,
    doc: { summary: "Add session resource" },
    handler: ({ params, body }) =>
      bus.request(SessionLog.resourcesAdd, { session_id: params.id, params: body }),
  });
  addRoute(app, {
    method: "GET",
    url: "/v1/sessions/:id/resources",
    params: IdParam,
    query: ResourceListQuery,
    response: PageOf(SessionResource),
    allow: (p, params) => access.session(p, params.id),
    handler: ({ params, query }) =>
      bus.request(SessionLog.resourcesList, { session_id: params.id, ...query }),
  });
  addRoute(app, {
    method: "GET",
    url: "/v1/sessions/:id/resources/:rid",
    params: ResourceParamsIn,
    response: SessionResource,
    allow: (p, params) => access.session(p, params.id),
    handler: ({ params }) =>
      bus.request(SessionLog.resourcesRetrieve, { session_id: params.id, id: params.rid }),
  });
  addRoute(app, {
    method: "POST",
    url: "/v1/sessions/:id/resources/:rid",
    params: ResourceParamsIn,
    body: ResourceUpdateParams,
    response: SessionResource,
    handler: ({ params, body }) =>
      bus.request(SessionLog.resourcesUpdate, { session_id: params.id, id: params.rid, params: body }),
  });
  addRoute(app, {
    method: "DELETE",
    url: "/v1/sessions/:id/resources/:rid",
    params: ResourceParamsIn,
    response: ResourceDeleted,
    handler: ({ params }) =>
      bus.request(SessionLog.resourcesDelete, { session_id: params.id, id: params.rid }),
  });
}
