/**
 * Where the CPU went during a measurement: the machine's busy share (all cores, from /proc/stat)
 * and named processes' CPU in percent of one core (from /proc/<pid>/stat), between `cpuProbe()`
 * and `stop()`; and a process's resident memory (`rssMiB`). Linux only; elsewhere, and for
 * processes that are gone, the numbers are absent.
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

let ticksPerSecond: number | undefined;
function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** utime + stime of a process, in clock ticks; undefined when it cannot be read. */
function processTicks(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command (which may contain spaces) start after the last ")".
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return undefined;
  }
}

/** [busy, total] jiffies over all cores. */
function machineTicks(): [number, number] | undefined {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n")[0]!;
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    const total = v.reduce((a, b) => a + b, 0);
    const idle = (v[3] ?? 0) + (v[4] ?? 0);
    return [total - idle, total];
  } catch {
    return undefined;
  }
}

/** Pids whose command line contains every one of `parts` (e.g. ["nats-server", "4222"]). */
export function findPids(parts: string[]): number[] {
  const out: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return out;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const args = readFileSync(`/proc/${e}/cmdline`, "utf8").split("\0");
      if (parts.every((p) => args.some((a) => a.includes(p)))) out.push(Number(e));
    } catch {
      // gone, or not ours to read
    }
  }
  return out;
}

export interface CpuUse {
  /** Share of all cores that were busy, percent. */
  machine_busy_percent?: number;
  /** Per named group of processes: CPU used, percent of one core. */
  processes: Record<string, number>;
}

export function cpuProbe(groups: Record<string, number[]>): { stop(): CpuUse } {
  const t0 = performance.now();
  const m0 = machineTicks();
  const p0 = Object.fromEntries(
    Object.entries(groups).map(([k, pids]) => [k, pids.map((p) => processTicks(p))] as const),
  );
  return {
    stop(): CpuUse {
      const seconds = (performance.now() - t0) / 1000;
      const m1 = machineTicks();
      const processes: Record<string, number> = {};
      for (const [k, pids] of Object.entries(groups)) {
        let ticks = 0;
        let seen = false;
        pids.forEach((pid, i) => {
          const a = p0[k]?.[i];
          const b = processTicks(pid);
          if (a === undefined || b === undefined) return;
          ticks += b - a;
          seen = true;
        });
        if (seen) processes[k] = Math.round((ticks / clockTicks() / seconds) * 1000) / 10;
      }
      const out: CpuUse = { processes };
      if (m0 && m1 && m1[1] > m0[1])
        out.machine_busy_percent = Math.round(((m1[0] - m0[0]) / (m1[1] - m0[1])) * 1000) / 10;
      return out;
    },
  };
}

/** Resident set size of a process in MiB (VmRSS from /proc/<pid>/status); undefined when gone. */
export function rssMiB(pid: number): number | undefined {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}
