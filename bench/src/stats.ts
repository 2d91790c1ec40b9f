/**
 * Measurement helpers: samples → percentiles, a figure against its baseline as a ratio, and the
 * results file every benchmark writes (`bench/results/<name>.json`).
 *
 * Invariant: a figure is only ever reported next to a baseline measured in the same run, on the
 * same machine, interleaved where possible, because absolute times on a shared box mean little.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export interface Summary {
  n: number;
  p50: number;
  p95: number;
  p99: number;
  mean: number;
  min: number;
  max: number;
}

export function summarize(samples: number[]): Summary {
  const s = [...samples].sort((a, b) => a - b);
  const q = (p: number) =>
    s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? Number.NaN;
  const round = (x: number) => Math.round(x * 1000) / 1000;
  return {
    n: s.length,
    p50: round(q(50)),
    p95: round(q(95)),
    p99: round(q(99)),
    mean: round(s.reduce((a, b) => a + b, 0) / Math.max(1, s.length)),
    min: round(s[0] ?? Number.NaN),
    max: round(s.at(-1) ?? Number.NaN),
  };
}

export interface Figure {
  /** What is measured, e.g. "sandbox cold start". */
  name: string;
  unit: "ms" | "ops/s" | "MiB" | "KiB";
  value: Summary;
  baseline?: { name: string; value: Summary };
  /** value.p50 / baseline.p50 (and p95), or another ratio the figure defines. */
  ratio?: { p50: number; p95: number };
  /** Extra numbers and notes (targets, parameters). */
  notes?: Record<string, unknown>;
}

export function compare(
  name: string,
  unit: Figure["unit"],
  value: number[],
  baselineName: string,
  baseline: number[],
  notes?: Record<string, unknown>,
): Figure {
  const v = summarize(value);
  const b = summarize(baseline);
  const r = (x: number, y: number) => Math.round((x / y) * 1000) / 1000;
  return {
    name,
    unit,
    value: v,
    baseline: { name: baselineName, value: b },
    ratio: { p50: r(v.p50, b.p50), p95: r(v.p95, b.p95) },
    ...(notes ? { notes } : {}),
  };
}

export function machine() {
  const c = cpus();
  return {
    cpus: c.length,
    cpu_model: c[0]?.model ?? "unknown",
    memory_gib: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    loadavg_1m: Math.round((loadavg()[0] ?? 0) * 100) / 100,
  };
}

const here = dirname(fileURLToPath(import.meta.url));
export const RESULTS_DIR = join(here, "..", "results");

export interface Results {
  benchmark: string;
  started_at: string;
  finished_at: string;
  smoke: boolean;
  machine: ReturnType<typeof machine>;
  figures: Figure[];
}

export function writeResults(r: Results): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const path = join(RESULTS_DIR, `${r.benchmark}${r.smoke ? ".smoke" : ""}.json`);
  writeFileSync(path, `${JSON.stringify(r, null, 2)}\n`);
  return path;
}

export async function time<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = performance.now();
  const value = await fn();
  return { ms: performance.now() - t0, value };
}

export function log(line: string): void {
  process.stderr.write(`${line}\n`);
}
