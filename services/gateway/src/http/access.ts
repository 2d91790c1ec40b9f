/**
 * Who may touch what. API keys reach everything; an environment key reaches its environment's
 * work queue and sessions; a sessions token (minted per work item) reaches its one session and
 * work item (spec §1.1, "three credential kinds").
 */
import type { Bus } from "@tendon/bus";
import { type Principal, SessionLog } from "@tendon/contracts";

export interface Access {
  session(p: Principal, sessionId: string): Promise<boolean>;
  workItem(p: Principal, environmentId: string, workId: string): boolean;
  environmentQueue(p: Principal, environmentId: string): boolean;
}

export function createAccess(bus: Bus, opts: { maxCached?: number } = {}): Access {
  // A session's environment never changes, so it is cached without expiry (bounded).
  const envOf = new Map<string, string>();
  const max = opts.maxCached ?? 50_000;
  return {
    async session(p, sessionId) {
      if (p.type === "api_key") return true;
      if (p.type === "session_token") return p.session_id === sessionId;
      let env = envOf.get(sessionId);
      if (env === undefined) {
        env = (await bus.request(SessionLog.sessionsRetrieve, { id: sessionId })).environment_id;
        if (envOf.size >= max) envOf.delete(envOf.keys().next().value as string);
        envOf.set(sessionId, env);
      }
      return env === p.environment_id;
    },
    workItem(p, environmentId, workId) {
      if (p.type === "api_key") return true;
      if (p.type === "environment_key") return p.environment_id === environmentId;
      return p.environment_id === environmentId && p.work_id === workId;
    },
    environmentQueue(p, environmentId) {
      return p.type === "api_key" || (p.type === "environment_key" && p.environment_id === environmentId);
    },
  };
}
