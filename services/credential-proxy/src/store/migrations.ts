import type { Migration } from "@tendon/db";
import * as m0001 from "./migrations/0001_credentials.js";

export const CREDENTIAL_MIGRATIONS: Record<string, Migration> = {
  "0001_credentials": m0001,
};
