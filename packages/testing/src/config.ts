/**
 * The only reader of `process.env` in @tendon/testing.
 *
 * Invariants:
 * - Everything else takes an explicit env (defaulting to `processEnv()`), so callers such as
 *   tests and `tendon dev` can hand in a synthetic environment.
 * - `inheritedChildEnv()` is the whole of what a spawned child inherits from this process:
 *   PATH and HOME, nothing else.
 */

/** This process's environment, for callers that did not pass one. */
export function processEnv(): NodeJS.ProcessEnv {
  return process.env;
}

/** The variables a child process inherits from this one: PATH and HOME only. */
export function inheritedChildEnv(): Record<string, string> {
  const out: Record<string, string> = {};
  if (process.env.PATH !== undefined) out.PATH = process.env.PATH;
  if (process.env.HOME !== undefined) out.HOME = process.env.HOME;
  return out;
}

/** True when `TENDON_TEST_VERBOSE=1`: managed processes echo their output to stderr. */
export function isVerbose(): boolean {
  return process.env.TENDON_TEST_VERBOSE === "1";
}
