/**
 * What every handler gets: the ports, plus `effects` for after-commit side effects.
 */
import type { Bus } from "@tendon/bus";
import type { LoggedEvent } from "@tendon/contracts";
import type { Db } from "@tendon/db";
import type { Clock, IdGen, Logger } from "@tendon/runtime";
import type { SessionLogMetrics } from "./metrics.js";

export interface SessionLogConfig {
  /** How often the sweeper looks for running sessions without a live harness. */
  sweepIntervalMs: number;
  /** A session must be quiet this long before the sweeper re-wakes it. */
  sweepGraceMs: number;
  sweepRewakeMs: number;
  /** Broken on purpose (TENDON_UNSAFE_DISABLE_FENCING): stale harness writes are accepted. */
  unsafeDisableFencing?: boolean;
  /** Replies are kept under this many bytes (NATS max_payload minus headroom). */
  maxReplyBytes: number;
}

export interface Effects {
  /** After commit: fan the events out and, if asked, wake a harness. Never throws. */
  committed(
    sessionId: string,
    events: ReadonlyArray<Omit<LoggedEvent, "internal">>,
    wake: boolean,
  ): Promise<void>;
  /** After commit: tell live readers the session is gone. */
  deleted(sessionId: string, at: Date, eventId: string): void;
}

export interface HandlerContext {
  db: Db;
  bus: Bus;
  clock: Clock;
  ids: IdGen;
  log: Logger;
  config: SessionLogConfig;
  effects: Effects;
  metrics: SessionLogMetrics;
}
