/**
 * A provider wrapper that makes `create()` slower on purpose, for benchmarks that simulate slow container
 * starts (e.g. 300 ms, 4 s) on top of a fast provider.
 *
 * Invariants:
 * - The inner `create()` starts only after the delay, so the delay adds to the inner start time.
 * - The delay is `startDelayMs` plus a uniform jitter in [-jitterMs, +jitterMs], never below 0.
 * - `close()` cancels pending delays (their `create()` rejects) and closes the inner provider.
 * - `sleep` and `random` are injectable so tests can order events without the wall clock.
 */
import type { SandboxProvider } from "./provider.js";

export interface DelayedProviderOptions {
  startDelayMs: number;
  jitterMs?: number;
  /** For tests: how to wait (default: setTimeout). */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** For tests: a number in [0, 1) (default: Math.random). */
  random?: () => number;
}

function defaultSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        reject(signal.reason);
      },
      { once: true },
    );
  });
}

/** Wraps `inner` so each create() first waits startDelayMs ± jitterMs. */
export function createDelayedProvider(inner: SandboxProvider, opts: DelayedProviderOptions): SandboxProvider {
  const sleep = opts.sleep ?? defaultSleep;
  const random = opts.random ?? Math.random;
  const jitter = opts.jitterMs ?? 0;
  const closing = new AbortController();
  return {
    name: inner.name,
    async create(spec) {
      const delay = Math.max(0, opts.startDelayMs + (random() * 2 - 1) * jitter);
      await sleep(delay, closing.signal);
      return inner.create(spec);
    },
    async close() {
      closing.abort(new Error("the provider is closed"));
      await inner.close();
    },
  };
}
