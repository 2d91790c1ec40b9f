import type { Database, Kysely } from "@tendon/db";

/** A kysely handle: the pool or an open transaction. Repository functions take it first. */
export type Executor = Kysely<Database>;

/** Postgres unique violation. */
export function isUniqueViolation(e: unknown, constraint?: string): boolean {
  const err = e as { code?: string; constraint?: string };
  return err?.code === "23505" && (constraint === undefined || err.constraint === constraint);
}
