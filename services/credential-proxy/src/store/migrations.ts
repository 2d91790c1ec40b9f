import type { Migration } from "@tendon/db";
import * as m0001 from "./migrations/0001_credentials.js";
import * as m0002 from "./migrations/0002_egress_ca.js";
import * as m0003 from "./migrations/0003_session_repositories.js";

export const CREDENTIAL_MIGRATIONS: Record<string, Migration> = {
  "0001_credentials": m0001,
  "0002_egress_ca": m0002,
  "0003_session_repositories": m0003,
};
