/**
 * Session events (spec §6): what clients send, what the harness emits, and the persisted form
 * every reader sees. Persisted events are the wire objects as-is: `{id, type, processed_at, ...}`.
 *
 * Invariants:
 * - `type` is the discriminator of every union here; readers switch on it exhaustively.
 * - Stream-only previews (`event_start` / `event_delta`) are never persisted and never listed.
 */
import { z } from "zod";
import { EventId, Timestamp } from "../common.js";

// ---- content blocks ----

export const TextBlock = z.strictObject({ type: z.literal("text"), text: z.string() });
export type TextBlock = z.infer<typeof TextBlock>;

const Base64Source = z.strictObject({
  type: z.literal("base64"),
  data: z.string(),
  media_type: z.string().max(128),
});
const UrlSource = z.strictObject({ type: z.literal("url"), url: z.string().max(8192) });
const FileSource = z.strictObject({ type: z.literal("file"), file_id: z.string().max(256) });
const PlainTextSource = z.strictObject({
  type: z.literal("text"),
  data: z.string(),
  media_type: z.literal("text/plain"),
});

export const ImageBlock = z.strictObject({
  type: z.literal("image"),
  source: z.discriminatedUnion("type", [Base64Source, UrlSource, FileSource]),
});
export const DocumentBlock = z.strictObject({
  type: z.literal("document"),
  source: z.discriminatedUnion("type", [Base64Source, PlainTextSource, UrlSource, FileSource]),
  title: z.string().max(1024).nullable().optional(),
  context: z.string().nullable().optional(),
});
export const SearchResultBlock = z.strictObject({
  type: z.literal("search_result"),
  source: z.string(),
  title: z.string(),
  content: z.array(TextBlock),
  citations: z.strictObject({ enabled: z.boolean() }),
});
export const RedactedBlock = z.strictObject({ type: z.literal("redacted") });

export const MessageContentBlock = z.discriminatedUnion("type", [
  TextBlock,
  ImageBlock,
  DocumentBlock,
  RedactedBlock,
]);
export type MessageContentBlock = z.infer<typeof MessageContentBlock>;
export const ToolResultContentBlock = z.discriminatedUnion("type", [
  TextBlock,
  ImageBlock,
  DocumentBlock,
  SearchResultBlock,
]);
export type ToolResultContentBlock = z.infer<typeof ToolResultContentBlock>;
export const AgentMessageBlock = z.discriminatedUnion("type", [TextBlock, RedactedBlock]);

// ---- client-sent events (POST /v1/sessions/{id}/events) ----

export const UserMessageParams = z.strictObject({
  type: z.literal("user.message"),
  content: z.array(MessageContentBlock).min(1).max(1000),
});
export const UserInterruptParams = z.strictObject({
  type: z.literal("user.interrupt"),
  session_thread_id: z.string().nullable().optional(),
});
export const UserToolConfirmationParams = z.strictObject({
  type: z.literal("user.tool_confirmation"),
  tool_use_id: EventId,
  result: z.enum(["allow", "deny"]),
  deny_message: z.string().max(10_000).nullable().optional(),
});
export const UserCustomToolResultParams = z.strictObject({
  type: z.literal("user.custom_tool_result"),
  custom_tool_use_id: EventId,
  content: z.array(ToolResultContentBlock).max(1000).optional(),
  is_error: z.boolean().nullable().optional(),
});
export const UserToolResultParams = z.strictObject({
  type: z.literal("user.tool_result"),
  tool_use_id: EventId,
  content: z.array(ToolResultContentBlock).max(1000).optional(),
  is_error: z.boolean().nullable().optional(),
});
export const UserDefineOutcomeParams = z.strictObject({
  type: z.literal("user.define_outcome"),
  description: z.string().min(1),
  rubric: z.discriminatedUnion("type", [
    z.strictObject({ type: z.literal("text"), content: z.string() }),
    z.strictObject({ type: z.literal("file"), file_id: z.string() }),
  ]),
  max_iterations: z.number().int().min(1).max(20).nullable().optional(),
});
export const SystemMessageParams = z.strictObject({
  type: z.literal("system.message"),
  content: z.array(TextBlock).min(1).max(1000),
});

export const ClientEventParams = z.discriminatedUnion("type", [
  UserMessageParams,
  UserInterruptParams,
  UserToolConfirmationParams,
  UserCustomToolResultParams,
  UserToolResultParams,
  UserDefineOutcomeParams,
  SystemMessageParams,
]);
export type ClientEventParams = z.infer<typeof ClientEventParams>;
export const CLIENT_EVENT_TYPES = ClientEventParams.options.map((o) => o.shape.type.value);
export type ClientEventType = ClientEventParams["type"];

export const SendEventsParams = z.strictObject({ events: z.array(ClientEventParams).min(1).max(100) });
export type SendEventsParams = z.infer<typeof SendEventsParams>;

// ---- server-emitted event payloads (without id / processed_at) ----

export const Usage = z.object({
  input_tokens: z.number().int().nonnegative(),
  output_tokens: z.number().int().nonnegative(),
  cache_creation_input_tokens: z.number().int().nonnegative(),
  cache_read_input_tokens: z.number().int().nonnegative(),
  speed: z.enum(["standard", "fast"]).nullable().optional(),
});
export type Usage = z.infer<typeof Usage>;

const RetryStatus = z.discriminatedUnion("type", [
  z.object({ type: z.literal("retrying") }),
  z.object({ type: z.literal("exhausted") }),
  z.object({ type: z.literal("terminal") }),
]);
export type RetryStatus = z.infer<typeof RetryStatus>;

export const SessionErrorType = z.enum([
  "unknown_error",
  "model_overloaded_error",
  "model_rate_limited_error",
  "model_request_failed_error",
  "mcp_connection_failed_error",
  "mcp_authentication_failed_error",
  "billing_error",
  "credential_host_unreachable_error",
  "tool_use_limit_reached_error",
  "compaction_limit_reached_error",
  "repository_authentication_error",
  "repository_forbidden_error",
  "repository_not_found_error",
  "repository_checkout_error",
  "repository_clone_error",
]);
export type SessionErrorType = z.infer<typeof SessionErrorType>;

export const SessionErrorObject = z.looseObject({
  type: SessionErrorType,
  message: z.string(),
  retry_status: RetryStatus,
});
export type SessionErrorObject = z.infer<typeof SessionErrorObject>;

export const StopReason = z.discriminatedUnion("type", [
  z.object({ type: z.literal("end_turn") }),
  z.object({ type: z.literal("requires_action"), event_ids: z.array(EventId) }),
  z.object({ type: z.literal("retries_exhausted") }),
  z.object({ type: z.literal("budget_reached") }),
  z.object({ type: z.literal("refusal") }),
]);
export type StopReason = z.infer<typeof StopReason>;

export const StopDetails = z
  .object({ type: z.literal("refusal"), category: z.string().nullable(), explanation: z.string().nullable() })
  .nullable();

const ToolEvaluation = z.discriminatedUnion("type", [
  z.object({ type: z.literal("always_allow") }),
  z.object({ type: z.literal("always_ask") }),
  z.object({ type: z.literal("auto"), evaluated_permission: z.object({ type: z.string() }).loose() }),
]);
export const EvaluatedPermission = z.enum(["allow", "ask", "deny"]);
export type EvaluatedPermission = z.infer<typeof EvaluatedPermission>;

const JsonObject = z.record(z.string(), z.unknown());

/** Payloads of everything the server (session-log or harness) appends. */
export const ServerEventPayload = z.discriminatedUnion("type", [
  z.object({ type: z.literal("agent.message"), content: z.array(AgentMessageBlock) }),
  z.object({ type: z.literal("agent.thinking") }),
  z.object({ type: z.literal("agent.custom_tool_use"), name: z.string(), input: JsonObject }),
  z.object({
    type: z.literal("agent.tool_use"),
    name: z.string(),
    input: JsonObject,
    evaluated_permission: EvaluatedPermission.optional(),
    evaluation: ToolEvaluation.optional(),
  }),
  z.object({
    type: z.literal("agent.tool_result"),
    tool_use_id: EventId,
    content: z.array(ToolResultContentBlock),
    is_error: z.boolean(),
  }),
  z.object({
    type: z.literal("agent.mcp_tool_use"),
    mcp_server_name: z.string(),
    name: z.string(),
    input: JsonObject,
    evaluated_permission: EvaluatedPermission.optional(),
    evaluation: ToolEvaluation.optional(),
  }),
  z.object({
    type: z.literal("agent.mcp_tool_result"),
    mcp_tool_use_id: EventId,
    content: z.array(ToolResultContentBlock),
    is_error: z.boolean(),
  }),
  z.object({ type: z.literal("session.status_running") }),
  z.object({ type: z.literal("session.status_idle"), stop_reason: StopReason, stop_details: StopDetails }),
  z.object({ type: z.literal("session.status_rescheduled") }),
  z.object({ type: z.literal("session.status_terminated") }),
  z.object({ type: z.literal("session.error"), error: SessionErrorObject }),
  z.object({
    type: z.literal("session.updated"),
    title: z.string().nullable().optional(),
    metadata: z.record(z.string(), z.string()).optional(),
    agent: z.unknown().optional(),
    budget: z.unknown().optional(),
  }),
  z.object({ type: z.literal("span.model_request_start") }),
  z.object({
    type: z.literal("span.model_request_end"),
    model_request_start_id: EventId,
    is_error: z.boolean().nullable(),
    model_usage: Usage,
  }),
]);
export type ServerEventPayload = z.infer<typeof ServerEventPayload>;
export type ServerEventType = ServerEventPayload["type"];

/** Client params as stored: `processed_at` is set; nothing else changes. */
export type ClientEventPayload = ClientEventParams;

export type EventPayload = ServerEventPayload | ClientEventPayload;
export type EventType = EventPayload["type"];

/** A persisted event as the API returns it. */
export type SessionEvent = EventPayload & { id: string; processed_at: string };

export const SessionEvent = z
  .looseObject({
    id: EventId,
    type: z.string(),
    processed_at: Timestamp,
  })
  .transform((e) => e as unknown as SessionEvent);

/** Every event type a client may filter on (`types[]`). */
export const EVENT_TYPES: readonly EventType[] = [
  ...CLIENT_EVENT_TYPES,
  ...ServerEventPayload.options.map((o) => o.shape.type.value),
];

// ---- stream-only previews (spec §4.2) ----

export const DeltaEventType = z.enum(["agent.message", "agent.thinking"]);
export type DeltaEventType = z.infer<typeof DeltaEventType>;

export const EventStart = z.object({
  type: z.literal("event_start"),
  event: z.object({ type: DeltaEventType, id: EventId }),
});
export const EventDelta = z.object({
  type: z.literal("event_delta"),
  event_id: EventId,
  delta: z.object({
    type: z.literal("content_delta"),
    index: z.number().int().nonnegative(),
    content: TextBlock,
  }),
});
export const StreamPreview = z.discriminatedUnion("type", [EventStart, EventDelta]);
export type StreamPreview = z.infer<typeof StreamPreview>;

export const EventListQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1000).optional(),
  page: z.string().max(2048).optional(),
  order: z.enum(["asc", "desc"]).optional(),
  types: z.array(z.string().max(64)).max(64).optional(),
  "created_at[gt]": z.iso.datetime({ offset: true }).optional(),
  "created_at[gte]": z.iso.datetime({ offset: true }).optional(),
  "created_at[lt]": z.iso.datetime({ offset: true }).optional(),
  "created_at[lte]": z.iso.datetime({ offset: true }).optional(),
});
export type EventListQuery = z.infer<typeof EventListQuery>;

export const StreamQuery = z.object({
  event_deltas: z.array(DeltaEventType).max(2).optional(),
});
