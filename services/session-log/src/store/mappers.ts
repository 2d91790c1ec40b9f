/**
 * Rows → API objects. The only place that knows how storage maps onto the wire shapes.
 */
import type {
  Agent,
  AgentConfig,
  Environment,
  EnvironmentConfig,
  Session,
  SessionAgent,
} from "@tendon/contracts";
import type { AgentVersionRow, EnvironmentRow, SessionRow } from "@tendon/db";
import type { SessionState } from "../domain/projection.js";

export const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);
const isoNN = (d: Date): string => d.toISOString();

export interface AgentHead {
  id: string;
  created_at: Date;
  archived_at: Date | null;
}

export function toAgent(head: AgentHead, v: AgentVersionRow): Agent {
  const config = v.config as AgentConfig;
  return {
    id: head.id,
    type: "agent",
    ...config,
    version: v.version,
    created_at: isoNN(head.created_at),
    updated_at: isoNN(v.created_at),
    archived_at: iso(head.archived_at),
  };
}

export function toSessionAgent(id: string, version: number, config: AgentConfig): SessionAgent {
  const { metadata: _m, ...rest } = config;
  return { id, type: "agent", version, ...rest };
}

export function toEnvironment(r: EnvironmentRow): Environment {
  return {
    id: r.id,
    type: "environment",
    name: r.name,
    description: r.description,
    config: r.config as EnvironmentConfig,
    metadata: r.metadata,
    scope: r.scope as Environment["scope"],
    created_at: isoNN(r.created_at),
    updated_at: isoNN(r.updated_at),
    archived_at: iso(r.archived_at),
  };
}

export function toSession(r: SessionRow, now: Date): Session {
  const state = r.state as SessionState;
  const runningMs = state.running_since !== null ? Math.max(0, now.getTime() - state.running_since) : 0;
  return {
    id: r.id,
    type: "session",
    // An archived session reads as terminated (SDK 1.10.0 changelog).
    status: r.archived_at ? "terminated" : (r.status as Session["status"]),
    agent: r.agent as SessionAgent,
    environment_id: r.environment_id,
    title: r.title,
    metadata: r.metadata,
    resources: r.resources as Session["resources"],
    vault_ids: r.vault_ids,
    usage: {
      input_tokens: state.usage.input_tokens,
      output_tokens: state.usage.output_tokens,
      cache_read_input_tokens: state.usage.cache_read_input_tokens,
      cache_creation: {
        ephemeral_5m_input_tokens: state.usage.cache_creation_input_tokens,
        ephemeral_1h_input_tokens: 0,
      },
    },
    stats: {
      active_seconds: Math.round((state.active_ms + runningMs) / 100) / 10,
      duration_seconds: Math.round((now.getTime() - r.created_at.getTime()) / 100) / 10,
    },
    outcome_evaluations: [],
    budget: (r.budget as Session["budget"]) ?? null,
    created_at: isoNN(r.created_at),
    updated_at: isoNN(r.updated_at),
    archived_at: iso(r.archived_at),
  };
}
