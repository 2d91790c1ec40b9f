/**
 * The self-hosted work queue over HTTP (spec §3.3, §5) and environment keys (Tendon extension:
 * `POST /v1/environments/{id}/keys`, since no SDK endpoint mints them).
 */
import type { Bus } from "@tendon/bus";
import {
  EnvironmentKey,
  EnvironmentKeyCreateParams,
  PageOf,
  SessionLog,
  Work,
  WorkHeartbeat,
  WorkHeartbeatQuery,
  WorkListQuery,
  WorkPollQuery,
  WorkStats,
  WorkStopParams,
  WorkUpdateParams,
} from "@tendon/contracts";
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import type { Access } from "../http/access.js";
import { addRoute } from "../http/route.js";
import { IdParam } from "./resources.js";

const WorkParams = z.object({ id: z.string().min(1).max(128), work_id: z.string().min(1).max(128) });
const DEFAULT_RECLAIM_MS = 5_000;
const WorkerIdHeader = z.object({
  "anthropic-worker-id": z
    .string()
    .max(256)
    .optional()
    .describe("Who claims the work (the SDK's worker id)."),
});

export function registerWorkRoutes(app: FastifyInstance, bus: Bus, access: Access): void {
  const queue = (p: Parameters<Access["environmentQueue"]>[0], params: { id: string }) =>
    access.environmentQueue(p, params.id);
  const item = (p: Parameters<Access["workItem"]>[0], params: { id: string; work_id: string }) =>
    access.workItem(p, params.id, params.work_id);

  addRoute(app, {
    method: "GET",
    url: "/v1/environments/:id/work/poll",
    params: IdParam,
    query: WorkPollQuery,
    response: Work,
    doc: {
      summary: "Poll for work",
      headers: WorkerIdHeader,
      noContent: "Nothing is queued (after waiting up to `block_ms`).",
    },
    allow: queue,
    handler: async ({ params, query, req, reply }) => {
      const workerId = String(req.headers["anthropic-worker-id"] ?? "").slice(0, 256);
      const claim = () =>
        bus.request(SessionLog.workClaim, {
          environment_id: params.id,
          worker_id: workerId,
          reclaim_older_than_ms: query.reclaim_older_than_ms ?? DEFAULT_RECLAIM_MS,
        });
      let { work } = await claim();
      const blockMs = query.block_ms ?? 0;
      if (!work && blockMs > 0) {
        // Listen first, then claim again, so an item queued in between is not missed.
        const wait = bus.waitForWork(params.id, blockMs);
        try {
          ({ work } = await claim());
          if (!work) {
            await wait.ready;
            ({ work } = await claim());
          }
        } finally {
          wait.cancel();
        }
      }
      if (!work) return reply.code(204).send();
      return work;
    },
  });

  addRoute(app, {
    method: "POST",
    url: "/v1/environments/:id/work/:work_id/ack",
    params: WorkParams,
    response: Work,
    allow: queue,
    handler: ({ params }) =>
      bus.request(SessionLog.workAck, { environment_id: params.id, work_id: params.work_id }),
  });

  addRoute(app, {
    method: "POST",
    url: "/v1/environments/:id/work/:work_id/heartbeat",
    params: WorkParams,
    query: WorkHeartbeatQuery,
    response: WorkHeartbeat,
    allow: item,
    handler: ({ params, query }) =>
      bus.request(SessionLog.workHeartbeat, {
        environment_id: params.id,
        work_id: params.work_id,
        expected_last_heartbeat: query.expected_last_heartbeat,
        ...(query.desired_ttl_seconds ? { desired_ttl_seconds: query.desired_ttl_seconds } : {}),
      }),
  });

  addRoute(app, {
    method: "POST",
    url: "/v1/environments/:id/work/:work_id/stop",
    params: WorkParams,
    body: WorkStopParams,
    response: Work,
    allow: item,
    handler: ({ params, body }) =>
      bus.request(SessionLog.workStop, {
        environment_id: params.id,
        work_id: params.work_id,
        force: body.force === true,
      }),
  });

  addRoute(app, {
    method: "GET",
    url: "/v1/environments/:id/work/stats",
    params: IdParam,
    response: WorkStats,
    doc: { summary: "Get work queue stats" },
    handler: ({ params }) => bus.request(SessionLog.workStats, { environment_id: params.id }),
  });

  addRoute(app, {
    method: "GET",
    url: "/v1/environments/:id/work",
    params: IdParam,
    query: WorkListQuery,
    response: PageOf(Work),
    allow: queue,
    handler: ({ params, query }) => bus.request(SessionLog.workList, { environment_id: params.id, query }),
  });

  addRoute(app, {
    method: "GET",
    url: "/v1/environments/:id/work/:work_id",
    params: WorkParams,
    response: Work,
    handler: ({ params }) =>
      bus.request(SessionLog.workRetrieve, { environment_id: params.id, work_id: params.work_id }),
  });

  addRoute(app, {
    method: "POST",
    url: "/v1/environments/:id/work/:work_id",
    params: WorkParams,
    body: WorkUpdateParams,
    response: Work,
    handler: ({ params, body }) =>
      bus.request(SessionLog.workUpdate, {
        environment_id: params.id,
        work_id: params.work_id,
        params: body,
      }),
  });

  addRoute(app, {
    method: "POST",
    url: "/v1/environments/:id/keys",
    params: IdParam,
    body: EnvironmentKeyCreateParams,
    response: EnvironmentKey,
    handler: ({ params, body }) =>
      bus.request(SessionLog.environmentKeysCreate, {
        environment_id: params.id,
        name: body.name ?? "environment key",
      }),
  });
}
