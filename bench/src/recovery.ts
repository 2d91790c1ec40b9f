/**
 * `pnpm bench recovery`: from a harness worker's failure to the next event of a session it held,
 * with production lease settings (the services' config.ts defaults) and 3 workers, against a
 * wake-up without any failure on the same stack in the same run (the part of recovery that is
 * not detection). SIGKILL rounds (found by the sweeper's presence probe) alternate with SIGSTOP
 * rounds (a frozen worker, found by its lease TTL alone), so the two detection paths are compared
 * side by side too. The measurement itself is recovery-core.ts, shared with
 * test/chaos/recovery.test.ts.
 */
import { resolveInfra } from "@tendon/testing";
import {
  type FailureSignal,
  LogProbe,
  type RecoveryRound,
  recoveryRound,
  wakeToNextEvent,
} from "./recovery-core.js";
import { startBenchStack } from "./stack.js";
import { compare, type Figure, log, summarize } from "./stats.js";

/** The services' defaults (services/harness-worker and services/session-log config.ts). */
const SETTINGS = {
  heartbeat_ms: 1000,
  lease_ttl_ms: 5000,
  sweep_interval_ms: 200,
  sweep_grace_ms: 300,
  sweep_rewake_ms: 500,
  presence_probe_timeout_ms: 500,
};

export async function benchRecovery(opts: { smoke: boolean }): Promise<Figure[]> {
  const roundsPerSignal = opts.smoke ? 1 : 8;
  const sessions = opts.smoke ? 3 : 8;
  const workers = opts.smoke ? 2 : 3;
  const baselinePerRound = opts.smoke ? 2 : 5;
  const infra = await resolveInfra({});
  try {
    const b = await startBenchStack({
      natsUrl: infra.natsUrl,
      adminDbUrl: infra.databaseUrl,
      tag: "recovery",
      harnessWorkers: workers,
    });
    const logs = new LogProbe(b.databaseUrl);
    const rounds: RecoveryRound[] = [];
    const baseline: number[] = [];
    try {
      const env = await b.client.beta.environments.create({ name: `recovery-${Date.now()}` });
      const target = { client: b.client, mock: b.mock, stack: b.stack, databaseUrl: b.databaseUrl };
      // Warm-up: one wake per worker-ish, not counted.
      await wakeToNextEvent(target, logs, { environmentId: env.id, tag: "warmup", n: 3 });
      for (let r = 0; r < roundsPerSignal * 2; r++) {
        const signal: FailureSignal = r % 2 === 0 ? "SIGKILL" : "SIGSTOP";
        const round = await recoveryRound(target, logs, {
          signal,
          sessions,
          environmentId: env.id,
          tag: `${r}`,
        });
        rounds.push(round);
        const next = summarize(round.nextEventMs);
        log(
          `  round ${r} ${signal}: ${round.orphans}/${round.sessions} orphaned, next event p50 ${next.p50} ms`,
        );
        baseline.push(
          ...(await wakeToNextEvent(target, logs, {
            environmentId: env.id,
            tag: `${r}`,
            n: baselinePerRound,
          })),
        );
      }
    } finally {
      await logs.close();
      await b.stop();
    }
    const of = (s: FailureSignal, k: "nextEventMs" | "takeoverMs") =>
      rounds.filter((r) => r.signal === s).flatMap((r) => r[k]);
    const brief = (xs: number[]) => {
      const s = summarize(xs);
      return { p50: s.p50, p95: s.p95, p99: s.p99, max: s.max, n: s.n };
    };
    const notes = {
      rounds_per_signal: roundsPerSignal,
      sessions_per_round: sessions,
      harness_workers: workers,
      settings: SETTINGS,
      timing: "signal (or send) → processed_at of the session's next logged event, same machine clock",
    };
    const baselineName = "no failure: user.message sent → the session's next event, same stack";
    const kill = of("SIGKILL", "nextEventMs");
    const stop = of("SIGSTOP", "nextEventMs");
    const figures = [
      compare(
        "SIGKILL of the holding worker → the session's next event (presence probe)",
        "ms",
        kill,
        baselineName,
        baseline,
        {
          ...notes,
          takeover_ms: brief(of("SIGKILL", "takeoverMs")),
        },
      ),
      compare(
        "SIGSTOP of the holding worker → the session's next event (lease TTL alone)",
        "ms",
        stop,
        baselineName,
        baseline,
        {
          takeover_ms: brief(of("SIGSTOP", "takeoverMs")),
        },
      ),
      compare(
        "SIGSTOP of the holding worker → the session's next event (lease TTL alone)",
        "ms",
        stop,
        "SIGKILL → next event (presence probe), same run",
        kill,
        { part: "what the presence probe saves over waiting out the lease TTL" },
      ),
    ];
    for (const f of figures)
      log(
        `  ${f.name}: p50 ${f.value.p50} / p99 ${f.value.p99} ms (n ${f.value.n}); ${f.baseline!.name}: p50 ${f.baseline!.value.p50} ms`,
      );
    return figures;
  } finally {
    await infra.stop();
  }
}
