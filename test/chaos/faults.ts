/**
 * The seeded fault schedule and the injector that carries it out against a running cluster.
 *
 * The schedule (times and kinds) is a pure function of the seed, printed before the run, so a
 * failing run is replayed with `TENDON_CHAOS_SEED`. Targets (which worker, which session) are
 * picked when a fault fires, by the same seeded generator, from what is live at that moment.
 *
 * Kinds:
 * - kill_harness: SIGKILL of a random harness worker (a fresh one is started in its place).
 * - kill_harness_mid_tool / kill_harness_mid_stream: SIGKILL of the worker holding a session that
 *   is between agent.tool_use and its result / inside a model stream.
 * - stop_harness: SIGSTOP of the worker holding a session that is in a model stream or a tool
 *   call, past its lease, then SIGCONT.
 * - kill_session_log / kill_gateway: SIGKILL of one instance, restarted (a gateway on its port).
 * - restart_nats: nats-server killed (SIGKILL) and restarted on its store.
 * - restart_postgres: immediate shutdown (SIGQUIT, crash recovery at start) and restart.
 * - kill_sandbox: a session's sandbox killed through the sandbox-manager.
 * - drop_sse: a client's live stream cut.
 * Model 529s and dropped streams are in the scripts (see workload.ts).
 */
import type { Bus } from "@tendon/bus";
import { SandboxManager } from "@tendon/contracts";
import type { ManagedProcess } from "@tendon/testing";
import type { LogReader } from "../support/log.js";
import { workerIdOf } from "../support/log.js";
import type { Rng } from "./rng.js";
import type { Driver } from "./workload.js";

export const FAULT_KINDS = [
  "kill_harness",
  "kill_harness_mid_tool",
  "kill_harness_mid_stream",
  "stop_harness",
  "kill_session_log",
  "kill_gateway",
  "restart_nats",
  "restart_postgres",
  "kill_sandbox",
  "drop_sse",
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface PlannedFault {
  atMs: number;
  kind: FaultKind;
}

/** How many of each fault a run of `sessions` sessions gets. */
export function faultCounts(sessions: number): Record<FaultKind, number> {
  const scale = Math.max(1, Math.round(sessions / 50));
  return {
    kill_harness: 2 * scale,
    kill_harness_mid_tool: 2 * scale,
    kill_harness_mid_stream: 2 * scale,
    stop_harness: 2 * scale,
    kill_session_log: scale,
    kill_gateway: scale,
    restart_nats: scale,
    restart_postgres: scale,
    kill_sandbox: 3 * scale,
    drop_sse: 6 * scale,
  };
}

/** Spreads the faults over [startMs, endMs), in a seeded order, at least `gapMs` apart. */
export function planFaults(
  rng: Rng,
  counts: Record<FaultKind, number>,
  startMs: number,
  gapMs: number,
): PlannedFault[] {
  const kinds = FAULT_KINDS.flatMap((k) => Array.from({ length: counts[k] }, () => k));
  for (let i = kinds.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [kinds[i], kinds[j]] = [kinds[j]!, kinds[i]!];
  }
  let at = startMs;
  return kinds.map((kind) => {
    at += gapMs + rng.int(gapMs);
    return { atMs: at, kind };
  });
}

export interface Cluster {
  harness: ManagedProcess[];
  sessionLogs: ManagedProcess[];
  gatewayPorts: Map<ManagedProcess, string>;
  startService(
    name: "harness-worker" | "session-log" | "gateway",
    env?: Record<string, string>,
  ): Promise<ManagedProcess>;
  restartNats(): Promise<void>;
  restartPostgres(): Promise<void>;
  bus: Bus;
  logs: LogReader;
}

export interface InjectedFault {
  kind: FaultKind;
  at: number;
  target: string;
  /** Sessions held by a killed worker, for recovery times. */
  orphans?: string[];
  /** When another worker took each orphan's lease (epoch moved on), ms after `at`. */
  takeoverMs?: Map<string, number>;
}

export class Injector {
  readonly injected: InjectedFault[] = [];
  readonly skipped: FaultKind[] = [];

  constructor(
    private readonly cluster: Cluster,
    private readonly drivers: () => Driver[],
    private readonly rng: Rng,
    private readonly leaseTtlMs: number,
    private readonly log: (msg: string) => void,
  ) {}

  private live = (d: Driver) => !d.done;

  /** A running harness worker (none while every one is being replaced). */
  private anyHarness(): ManagedProcess | undefined {
    return this.cluster.harness.length > 0 ? this.rng.pick(this.cluster.harness) : undefined;
  }

  /** The worker process holding `sessionId`'s lease, if any. */
  private async holder(sessionId: string): Promise<ManagedProcess | undefined> {
    const lease = await this.cluster.logs.lease(sessionId).catch(() => undefined);
    if (!lease?.owner) return undefined;
    return this.cluster.harness.find((p) => {
      try {
        return workerIdOf(p) === lease.owner;
      } catch {
        return false;
      }
    });
  }

  /** Sessions whose lease this worker holds now (recovery is measured for them), with their epochs. */
  private async heldBy(p: ManagedProcess): Promise<Map<string, number>> {
    const id = workerIdOf(p);
    const owners = await this.cluster.logs
      .owners(
        this.drivers()
          .filter(this.live)
          .map((d) => d.sessionId),
      )
      .catch(() => new Map<string, { owner: string | null; epoch: number }>());
    return new Map([...owners].filter(([, l]) => l.owner === id).map(([sid, l]) => [sid, l.epoch]));
  }

  /** Watches the orphans' epochs until another worker has taken each (or 60 s passed). */
  readonly watches: Promise<unknown>[] = [];
  private watchTakeover(f: InjectedFault, epochs: Map<string, number>): void {
    const takeover = new Map<string, number>();
    f.takeoverMs = takeover;
    this.watches.push(
      (async () => {
        while (takeover.size < epochs.size && Date.now() - f.at < 60_000) {
          const now = await this.cluster.logs.owners([...epochs.keys()]).catch(() => undefined);
          const t = Date.now() - f.at;
          for (const [sid, l] of now ?? []) {
            if (!takeover.has(sid) && l.epoch > epochs.get(sid)!) takeover.set(sid, t);
          }
          await new Promise((r) => setTimeout(r, 25));
        }
      })(),
    );
  }

  /** Replacements start in the background: the schedule goes on while they boot. */
  readonly restarts: Promise<unknown>[] = [];

  /**
   * Starts a replacement, trying again if it does not come up (a process started while NATS
   * restarts, on a machine at a load of 15, can miss its ready deadline).
   */
  private replace(name: "harness-worker" | "session-log" | "gateway", env?: Record<string, string>): void {
    this.restarts.push(
      (async () => {
        for (let attempt = 1; ; attempt++) {
          try {
            return await this.cluster.startService(name, env);
          } catch (err) {
            this.log(`replacement ${name} did not start (attempt ${attempt}): ${String(err).slice(0, 200)}`);
            if (attempt === 3) return undefined;
          }
        }
      })(),
    );
  }

  private async killHarness(p: ManagedProcess, kind: FaultKind): Promise<void> {
    const held = await this.heldBy(p);
    const at = Date.now();
    p.kill("SIGKILL");
    const f: InjectedFault = { kind, at, target: p.name, orphans: [...held.keys()] };
    this.injected.push(f);
    this.watchTakeover(f, held);
    await p.exited;
    this.cluster.harness.splice(this.cluster.harness.indexOf(p), 1);
    this.replace("harness-worker");
  } /** A session in the phase `pred` says, and its holder; waits up to 10 s for one. */
  private async sessionIn(
    pred: (d: Driver) => boolean,
  ): Promise<{ d: Driver; p: ManagedProcess } | undefined> {
    const until = Date.now() + 10_000;
    while (Date.now() < until && this.drivers().some(this.live)) {
      const candidates = this.drivers().filter((d) => this.live(d) && pred(d));
      const start = this.rng.int(Math.max(1, candidates.length));
      for (let i = 0; i < candidates.length; i++) {
        const d = candidates[(start + i) % candidates.length]!;
        const p = await this.holder(d.sessionId);
        // Still in that phase once the holder is known.
        if (p && pred(d)) return { d, p };
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    return undefined;
  }

  async inject(kind: FaultKind): Promise<void> {
    const c = this.cluster;
    switch (kind) {
      case "kill_harness": {
        const p = this.anyHarness();
        if (!p) return void this.skipped.push(kind);
        return this.killHarness(p, kind);
      }
      case "kill_harness_mid_tool":
      case "kill_harness_mid_stream": {
        const hit = await this.sessionIn((d) =>
          kind === "kill_harness_mid_tool" ? d.inTool : d.lastType === "span.model_request_start",
        );
        if (!hit) {
          this.skipped.push(kind);
          const p = this.anyHarness();
          return p ? this.killHarness(p, "kill_harness") : undefined;
        }
        return this.killHarness(hit.p, kind);
      }
      case "stop_harness": {
        // A worker in the middle of a model stream or a tool call: what it does when it wakes
        // up is stale, and only fencing keeps it out of the log.
        const busy = (d: Driver) => d.inTool || d.lastType === "span.model_request_start";
        const p = (await this.sessionIn(busy))?.p ?? this.anyHarness();
        if (!p) return void this.skipped.push(kind);
        const orphans = [...(await this.heldBy(p)).keys()];
        this.injected.push({ kind, at: Date.now(), target: p.name, orphans });
        p.kill("SIGSTOP");
        await new Promise((r) => setTimeout(r, this.leaseTtlMs * 2 + 500));
        p.kill("SIGCONT");
        return;
      }
      case "kill_session_log": {
        // One instance of each stays up (the other may still be restarting from the last kill).
        if (c.sessionLogs.length < 2) return void this.skipped.push(kind);
        const p = this.rng.pick(c.sessionLogs);
        this.injected.push({ kind, at: Date.now(), target: p.name });
        p.kill("SIGKILL");
        await p.exited;
        c.sessionLogs.splice(c.sessionLogs.indexOf(p), 1);
        this.replace("session-log");
        return;
      }
      case "kill_gateway": {
        if (c.gatewayPorts.size < 2) return void this.skipped.push(kind);
        const p = this.rng.pick([...c.gatewayPorts.keys()]);
        const port = c.gatewayPorts.get(p)!;
        this.injected.push({ kind, at: Date.now(), target: p.name });
        c.gatewayPorts.delete(p);
        p.kill("SIGKILL");
        await p.exited;
        this.replace("gateway", { PORT: port });
        return;
      }
      case "restart_nats":
        this.injected.push({ kind, at: Date.now(), target: "nats-server" });
        return c.restartNats();
      case "restart_postgres":
        this.injected.push({ kind, at: Date.now(), target: "postgres" });
        return c.restartPostgres();
      case "kill_sandbox": {
        const live = this.drivers().filter(this.live);
        if (live.length === 0) return void this.skipped.push(kind);
        const d = this.rng.pick(live);
        this.injected.push({ kind, at: Date.now(), target: d.sessionId });
        await c.bus.request(SandboxManager.kill, { session_id: d.sessionId }).catch((err: unknown) => {
          this.log(`kill_sandbox ${d.sessionId}: ${String(err).slice(0, 120)}`);
        });
        return;
      }
      case "drop_sse": {
        const live = this.drivers().filter(this.live);
        if (live.length === 0) return void this.skipped.push(kind);
        const d = this.rng.pick(live);
        this.injected.push({ kind, at: Date.now(), target: d.sessionId });
        d.dropStream();
        return;
      }
    }
  }
}
