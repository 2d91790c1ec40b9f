/**
 * `waitFor`: how tests (and launchers) wait for a condition instead of sleeping.
 *
 * Invariants:
 * - The condition is polled until it returns a value other than `undefined`, `null` or `false`;
 *   that value is the result. A throw counts as "not yet" and is remembered.
 * - The promise settles by the deadline even when the condition itself hangs.
 * - On timeout the error names the `message`, the elapsed time, the number of attempts and the
 *   last error the condition threw (also set as `cause`).
 */

export interface WaitForOptions {
  /** Give up after this long. Default 10,000 ms. */
  timeoutMs?: number;
  /** Pause between attempts. Default 25 ms. */
  intervalMs?: number;
  /** What is being waited for; goes into the timeout error. */
  message?: string;
}

/** The error `waitFor` rejects with when the deadline passes. */
export class WaitTimeoutError extends Error {
  override readonly name = "WaitTimeoutError";
}

type Falsy = undefined | null | false;

const HUNG = Symbol("hung");

/** Polls `fn` until it yields a value (not `undefined`/`null`/`false`) or the timeout passes. */
export async function waitFor<T>(
  fn: () => T | Falsy | Promise<T | Falsy>,
  opts: WaitForOptions = {},
): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const intervalMs = opts.intervalMs ?? 25;
  const started = Date.now();
  const deadline = started + timeoutMs;
  let lastError: unknown;
  let attempts = 0;
  for (;;) {
    attempts++;
    const remaining = deadline - Date.now();
    let timer: NodeJS.Timeout | undefined;
    try {
      const outcome = await Promise.race([
        Promise.resolve().then(fn),
        new Promise<typeof HUNG>((resolve) => {
          timer = setTimeout(() => resolve(HUNG), Math.max(remaining, 0));
        }),
      ]);
      if (outcome !== HUNG && outcome !== undefined && outcome !== null && outcome !== false) {
        return outcome as T;
      }
      if (outcome === HUNG) lastError = new Error(`the condition was still pending at the deadline`);
    } catch (err) {
      lastError = err;
    } finally {
      clearTimeout(timer);
    }
    const left = deadline - Date.now();
    if (left <= 0) throw timeoutError(opts.message, Date.now() - started, attempts, lastError);
    await new Promise((resolve) => setTimeout(resolve, Math.min(intervalMs, left)));
  }
}

function timeoutError(message: string | undefined, elapsed: number, attempts: number, lastError: unknown) {
  const what = message ?? "condition";
  const last = lastError === undefined ? "" : `; last error: ${describe(lastError)}`;
  return new WaitTimeoutError(
    `waitFor timed out after ${elapsed} ms (${attempts} attempts): ${what}${last}`,
    {
      cause: lastError,
    },
  );
}

function describe(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}
