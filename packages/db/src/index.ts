export type { ExpressionBuilder, Kysely, Migration, Transaction } from "kysely";
export { sql } from "kysely";
export type { Db, DbOptions } from "./db.js";
export { createDb, ensureSchema } from "./db.js";
export { isUniqueViolation, mapDbError } from "./errors.js";
export { migrateToLatest, runMigrations } from "./migrator.js";
export type { RoleSpec } from "./roles.js";
export { provisionRoles } from "./roles.js";
export type * from "./schema.js";
