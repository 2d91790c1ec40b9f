export type { ExpressionBuilder, Kysely, Transaction } from "kysely";
export { sql } from "kysely";
export type { Db, DbOptions } from "./db.js";
export { createDb, ensureSchema } from "./db.js";
export { migrateToLatest } from "./migrator.js";
export type * from "./schema.js";
