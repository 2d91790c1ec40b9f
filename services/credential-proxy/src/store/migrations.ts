import type { Migration } from "@tendon/db";
import * as m0001 from "./migrations/0001_credentials.js";
import * as m0002 from "./migrations/0002_egress_ca.js";

export const CREDENTIAL_MIGRATIONS: Record<string, Migration> = {
  "0001_credentials": m0001,
  "0002_egress_ca": m0002,
};
