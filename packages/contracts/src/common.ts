/**
 * Shapes shared by every resource: ids, metadata, timestamps and cursor pages.
 */
import { z } from "zod";
import { ValidationError } from "./errors.js";

/** Id prefixes of the Managed Agents API (spec §1.2) plus Tendon's own. */
export const ID_PREFIX = {
  agent: "agent_",
  environment: "env_",
  session: "sesn_",
  sessionResource: "sesrsc_",
  event: "sevt_",
  work: "work_",
  vault: "vlt_",
  credential: "vcrd_",
  request: "req_",
  apiKey: "key_",
  worker: "wrk_",
  egress: "egr_",
} as const;
export type IdKind = keyof typeof ID_PREFIX;

const ID_BODY = /^[A-Za-z0-9]{8,64}$/;

/** True when `id` looks like an id of `kind` (the prefix and a body of base62 characters). */
export function isId(kind: IdKind, id: string): boolean {
  const prefix = ID_PREFIX[kind];
  return id.startsWith(prefix) && ID_BODY.test(id.slice(prefix.length));
}

export const AgentId = z.string().startsWith(ID_PREFIX.agent).max(80);
export const EnvironmentId = z.string().startsWith(ID_PREFIX.environment).max(80);
export const SessionId = z.string().startsWith(ID_PREFIX.session).max(80);
export const EventId = z.string().startsWith(ID_PREFIX.event).max(80);
export type SessionId = z.infer<typeof SessionId>;
export type EventId = z.infer<typeof EventId>;

export const Timestamp = z.string();

const METADATA_MAX_KEYS = 16;

function checkMetadataSize(m: Record<string, unknown>, ctx: z.RefinementCtx) {
  if (Object.keys(m).length > METADATA_MAX_KEYS) {
    ctx.addIssue({ code: "custom", message: `at most ${METADATA_MAX_KEYS} metadata keys are allowed` });
  }
}

const MetadataKey = z.string().min(1).max(64);

/** `metadata` on create: up to 16 keys of ≤64 chars, values ≤512 chars. */
export const Metadata = z.record(MetadataKey, z.string().max(512)).superRefine(checkMetadataSize);
export type Metadata = z.infer<typeof Metadata>;

/** `metadata` on update: a patch; `null` (or "") deletes a key; `null` for the whole object clears it. */
export const MetadataPatch = z
  .record(MetadataKey, z.string().max(512).nullable())
  .superRefine(checkMetadataSize)
  .nullable();
export type MetadataPatch = z.infer<typeof MetadataPatch>;

/**
 * The metadata after an update. The patch alone may be valid while the merged result is not (16
 * keys stored, 1 new one sent): that is the caller's 400, checked here for every resource.
 */
export function applyMetadataPatch(current: Metadata, patch: MetadataPatch | undefined): Metadata {
  if (patch === undefined) return current;
  if (patch === null) return {};
  const next: Metadata = { ...current };
  for (const [k, v] of Object.entries(patch)) {
    if (v === null || v === "") delete next[k];
    else next[k] = v;
  }
  if (Object.keys(next).length > METADATA_MAX_KEYS) {
    throw new ValidationError(
      `at most ${METADATA_MAX_KEYS} metadata keys are allowed; this update would leave ${Object.keys(next).length}`,
    );
  }
  return next;
}

export const SortOrder = z.enum(["asc", "desc"]);
export type SortOrder = z.infer<typeof SortOrder>;

/** Query booleans arrive as strings. */
export const QueryBool = z.preprocess((v) => {
  if (v === "true" || v === "1") return true;
  if (v === "false" || v === "0") return false;
  return v;
}, z.boolean());

export const PageLimit = (max: number, dflt: number) => z.coerce.number().int().min(1).max(max).default(dflt);

export const PageParams = z.object({
  limit: z.coerce.number().int().min(1).max(1000).optional(),
  page: z.string().max(2048).optional(),
});

/** `{data, next_page}` — `next_page` is null at the end, always (spec §2). */
export function PageOf<T extends z.ZodType>(item: T) {
  return z.object({ data: z.array(item), next_page: z.string().nullable() });
}
export interface Page<T> {
  data: T[];
  next_page: string | null;
}
