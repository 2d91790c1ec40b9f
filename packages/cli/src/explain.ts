/**
 * What the SDK's errors mean for a person: one sentence per failure the gateway or the network
 * can produce, and whether a failed stream or list is worth retrying.
 */
import Anthropic from "@anthropic-ai/sdk";
import { CliError } from "./errors.js";

/** The gateway's own message, without the SDK's "401 {json}" prefix. */
function apiMessage(e: InstanceType<typeof Anthropic.APIError>): string {
  const body = e.error as { error?: { message?: unknown } } | undefined;
  const m = body?.error?.message;
  return typeof m === "string" && m !== "" ? m : e.message;
}

/** Turns anything thrown while talking to the gateway at `url` into a CliError. */
export function explain(err: unknown, url: string): CliError {
  if (err instanceof CliError) return err;
  if (err instanceof Anthropic.APIConnectionTimeoutError)
    return new CliError(`the gateway at ${url} did not answer in time; is it overloaded or stuck?`, 1, {
      cause: err,
    });
  if (err instanceof Anthropic.APIConnectionError) {
    const cause = err.cause instanceof Error ? describeCause(err.cause) : "";
    return new CliError(
      `cannot reach the Tendon gateway at ${url}${cause ? ` (${cause})` : ""}. ` +
        `Is it running? Start one with "tendon dev", or point TENDON_URL / --url at yours.`,
      1,
      { cause: err },
    );
  }
  if (err instanceof Anthropic.AuthenticationError)
    return new CliError(
      `the gateway at ${url} refused the API key (${apiMessage(err)}). ` +
        `Check TENDON_API_KEY or --api-key; "tendon dev" prints a working key and "tendon keys create" mints one.`,
      1,
      { cause: err },
    );
  if (err instanceof Anthropic.PermissionDeniedError)
    return new CliError(`this API key may not do that: ${apiMessage(err)}`, 1, { cause: err });
  if (err instanceof Anthropic.NotFoundError)
    return new CliError(`not found: ${apiMessage(err)}`, 1, { cause: err });
  if (err instanceof Anthropic.APIError && err.status !== undefined && err.status < 500)
    return new CliError(`the gateway refused the request (${err.status}): ${apiMessage(err)}`, 1, {
      cause: err,
    });
  if (err instanceof Anthropic.APIError)
    return new CliError(
      `the gateway failed (${err.status ?? "stream error"}): ${apiMessage(err)}; try again, or check its logs`,
      1,
      { cause: err },
    );
  if (err instanceof Error && (err as NodeJS.ErrnoException).code === "ENOENT")
    return new CliError(err.message, 1, { cause: err });
  return new CliError(err instanceof Error ? err.message : String(err), 1, { cause: err });
}

/** "connection refused" rather than "fetch failed": the innermost cause with an errno code. */
function describeCause(e: Error): string {
  let code: string | undefined;
  let message = e.message;
  for (let c: unknown = e, depth = 0; c instanceof Error && depth < 5; c = c.cause, depth++) {
    code = (c as NodeJS.ErrnoException).code ?? code;
    message = c.message;
  }
  switch (code) {
    case "ECONNREFUSED":
      return "connection refused";
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return "unknown host";
    case "ECONNRESET":
    case "UND_ERR_SOCKET":
      return "connection reset";
    case "ETIMEDOUT":
    case "UND_ERR_CONNECT_TIMEOUT":
      return "timed out";
    default:
      return code ?? message;
  }
}

/** Whether a failed stream or list is worth retrying (network, 408/409/429/5xx) or final. */
export function isRetryable(err: unknown): boolean {
  if (err instanceof Anthropic.APIConnectionError) return true;
  if (err instanceof Anthropic.APIError) {
    const s = err.status;
    return s === undefined || s === 408 || s === 409 || s === 429 || s >= 500;
  }
  // Node's fetch surfaces a body cut mid-stream as TypeError("terminated") or a socket error.
  if (!(err instanceof Error)) return false;
  const code = (err as NodeJS.ErrnoException).code ?? (err.cause as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code === "string" && /^(E[A-Z]+|UND_ERR_[A-Z_]+)$/.test(code)) return true;
  return err instanceof TypeError && /terminated|fetch failed|socket|network/i.test(err.message);
}
