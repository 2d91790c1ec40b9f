/**
 * What other workspace packages may import from the benchmarks: the recovery measurement, shared
 * with the resilience suite (test/chaos/recovery.test.ts). The runner itself is run.ts.
 */
export {
  type FailureSignal,
  LogProbe,
  type RecoveryRound,
  type RecoveryTarget,
  type RoundOptions,
  recoveryRound,
  wakeToNextEvent,
  workerIdOf,
} from "./recovery-core.js";
export { type Summary, summarize } from "./stats.js";
