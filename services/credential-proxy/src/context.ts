/**
 * What every credential-proxy handler gets.
 */
import type { Bus } from "@tendon/bus";
import type { Db } from "@tendon/db";
import type { Clock, IdGen, Logger } from "@tendon/runtime";
import type { SecretStore } from "./domain/secrets.js";
import type { CredentialProxyMetrics } from "./metrics.js";
import type { CredentialsDatabase } from "./store/schema.js";

export interface CredentialProxyContext {
  db: Db<CredentialsDatabase>;
  bus: Bus;
  clock: Clock;
  ids: IdGen;
  log: Logger;
  secrets: SecretStore;
  /** Prometheus metrics; absent in tests that build a context by hand. */
  metrics?: CredentialProxyMetrics | undefined;
}
