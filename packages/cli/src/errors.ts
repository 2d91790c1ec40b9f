/**
 * The CLI's errors: a closed set of exit codes and one sentence a person understands for every
 * failure the gateway or the network can produce. `main` prints `tendon: <message>` and exits
 * with `exitCode`; nothing else decides exit codes.
 *
 * (What the SDK's errors mean is in explain.ts, which loads the SDK.)
 *
 * Exit codes: 0 done · 1 failed (gateway, network, session error) · 2 usage (bad flags, missing
 * key) · 3 the session waits for input it cannot give (custom tool, approval) · 130 interrupted.
 */

export const EXIT = { ok: 0, failed: 1, usage: 2, needsInput: 3, interrupted: 130 } as const;

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.failed,
    opts: ErrorOptions = {},
  ) {
    super(message, opts);
    this.name = new.target.name;
  }
}

/** A mistake in how the command was called: exit 2, with a pointer to the command's help. */
export class UsageError extends CliError {
  constructor(message: string, command?: string) {
    super(`${message}\n(see "tendon ${command ? `${command} ` : ""}--help")`, EXIT.usage);
  }
}
