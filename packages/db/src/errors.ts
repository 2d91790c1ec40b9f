/**
 * Postgres errors in the taxonomy: a unique violation is a caller's conflict; the database being
 * down or restarting is a retryable `unavailable`, never an internal error; a data exception
 * (SQLSTATE class 22: a NUL character or an unpaired surrogate, a number out of a column's range, a
 * forged cursor key of the wrong type) is the request's value, so a 400 — without Postgres's text,
 * which may quote the value.
 */
import { AppError, toAppError } from "@tendon/contracts";

export function isUniqueViolation(e: unknown, constraint?: string): boolean {
  const err = e as { code?: string; constraint?: string };
  return err?.code === "23505" && (constraint === undefined || err.constraint === constraint);
}

const PG_UNAVAILABLE = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "57P01",
  "57P02",
  "57P03",
  "53300",
]);

export function mapDbError(e: unknown): AppError {
  if (e instanceof AppError) return e;
  const code = (e as { code?: string } | undefined)?.code;
  const msg = e instanceof Error ? e.message : "";
  if (
    (code && (PG_UNAVAILABLE.has(code) || code.startsWith("08"))) ||
    /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/i.test(
      msg,
    )
  ) {
    return new AppError("unavailable", "the database is unavailable; retry shortly", { cause: e });
  }
  if (code?.startsWith("22")) {
    return new AppError(
      "invalid_request",
      "a value in the request cannot be stored or compared (NUL characters, unpaired surrogates, numbers out of range and forged page cursors are refused)",
      { cause: e, details: { error_code: "invalid_value" } },
    );
  }
  return toAppError(e);
}
