import type { Database, Kysely } from "@tendon/db";

/** A kysely handle: the pool or an open transaction. Repository functions take it first. */
export type Executor = Kysely<Database>;
