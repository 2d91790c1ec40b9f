/**
 * The NATS subject and stream catalog. Every subject any service uses is built here, from a
 * deployment prefix and validated tokens; services never write subject strings themselves.
 *
 * Layout (prefix `tendon`):
 *   tendon.rpc.<service>.<op>        core request/reply, queue group per service
 *   tendon.live.<sessionId>          best-effort fan-out of committed events and previews
 *   tendon.wake.<sessionId>          JetStream work queue of wake-ups (stream <PREFIX>_WAKE)
 *   tendon.work.<environmentId>      "work queued" signal for long-polling self-hosted pollers
 *   tendon.presence.<processId>      answered while a process's connection lives (fast death detection)
 *   tendon.hand.<kind>.<name>.execute  a hand's execute endpoint, kind = sandbox | tool
 *                                    (KV <PREFIX>_HANDS is the registry, <PREFIX>_EXEC the records)
 */

const TOKEN = /^[A-Za-z0-9_-]+$/;

/** True when `value` can be one subject token (no dots, wildcards or whitespace). */
export function isSubjectToken(value: string): boolean {
  return TOKEN.test(value);
}

/** Validates one subject token. */
export function token(value: string): string {
  if (!isSubjectToken(value)) throw new Error(`invalid subject token: ${JSON.stringify(value)}`);
  return value;
}

/**
 * The reply-inbox prefix of a NATS role (user): the only inbox subjects its user may subscribe
 * to, so no role reads another's replies. Not under the deployment prefix (NATS inboxes never are).
 */
export function inboxPrefixOf(role: string): string {
  return `_INBOX.${token(role)}`;
}

/** A deployment prefix: one or more tokens joined by dots. */
export function validatePrefix(prefix: string): string {
  for (const part of prefix.split(".")) token(part);
  return prefix;
}

function streamName(prefix: string, suffix: string): string {
  return `${prefix.replace(/[^A-Za-z0-9_-]/g, "_")}_${suffix}`.toUpperCase();
}

export interface Subjects {
  readonly prefix: string;
  rpc(service: string, op: string): string;
  rpcQueue(service: string): string;
  live(sessionId: string): string;
  liveAll(): string;
  wake(sessionId: string): string;
  wakeAll(): string;
  wakeStream(): string;
  wakeConsumer(): string;
  /** Signals long-polling work pollers of an environment that an item was queued. */
  workAvailable(environmentId: string): string;
  /** Answered by a live process (a harness worker) for as long as its NATS connection lives. */
  presence(processId: string): string;
  /** Where the hand called `name` takes `execute` requests. */
  hand(name: string): string;
  handQueue(name: string): string;
  /** JetStream KV buckets: the hand registry and hands' execution records. */
  handsBucket(): string;
  executionsBucket(): string;
}

export function subjects(prefix: string): Subjects {
  validatePrefix(prefix);
  return {
    prefix,
    rpc: (service, op) => `${prefix}.rpc.${token(service)}.${op.split(".").map(token).join(".")}`,
    rpcQueue: (service) => `${prefix}.${token(service)}`,
    live: (sessionId) => `${prefix}.live.${token(sessionId)}`,
    liveAll: () => `${prefix}.live.*`,
    wake: (sessionId) => `${prefix}.wake.${token(sessionId)}`,
    wakeAll: () => `${prefix}.wake.*`,
    wakeStream: () => streamName(prefix, "WAKE"),
    wakeConsumer: () => "harness",
    workAvailable: (environmentId) => `${prefix}.work.${token(environmentId)}`,
    presence: (processId) => `${prefix}.presence.${token(processId)}`,
    hand: (name) => `${prefix}.hand.${name.split(".").map(token).join(".")}.execute`,
    handQueue: (name) => `hand.${name.split(".").map(token).join(".")}`,
    handsBucket: () => streamName(prefix, "HANDS"),
    executionsBucket: () => streamName(prefix, "EXEC"),
  };
}
