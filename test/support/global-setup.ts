/**
 * Resolves NATS and Postgres once for the whole run (the env URLs in CI; local servers on a
 * developer machine) and hands their URLs to the test workers through the environment.
 */
import { resolveInfra } from "@tendon/testing";

export default async function setup(): Promise<() => Promise<void>> {
  const infra = await resolveInfra({ log: (m) => process.stderr.write(`[infra] ${m}\n`) });
  process.env.NATS_URL = infra.natsUrl;
  process.env.DATABASE_URL = infra.databaseUrl;
  return () => infra.stop();
}
