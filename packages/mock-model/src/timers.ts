/**
 * Abortable delays for scripted latency.
 *
 * Invariants:
 * - Every timer is cleared when its signal aborts; `active` counts the timers still pending, so a
 *   server can prove it leaks none.
 * - `sleep` never rejects: it resolves `true` when the delay elapsed and `false` when aborted.
 */

export class TimerSet {
  #active = 0;

  /** Timers currently pending. */
  get active(): number {
    return this.#active;
  }

  sleep(ms: number, signal: AbortSignal): Promise<boolean> {
    if (signal.aborted) return Promise.resolve(false);
    if (ms <= 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      this.#active++;
      const done = (elapsed: boolean) => {
        clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
        this.#active--;
        resolve(elapsed);
      };
      const onAbort = () => done(false);
      const timer = setTimeout(() => done(true), ms);
      signal.addEventListener("abort", onAbort, { once: true });
    });
  }
}

/** Resolves when `signal` aborts (immediately if it already has). */
export function aborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
}
