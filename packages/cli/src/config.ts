/**
 * The CLI's view of the environment: the only file here that reads process.env.
 */
export interface CliEnv {
  natsUrl: string | undefined;
  databaseUrl: string | undefined;
  prefix: string;
  dbSchema: string;
  port: number;
  devWorkers: number;
  anthropicKey: string | undefined;
  anthropicAuthToken: string | undefined;
  anthropicBaseUrl: string | undefined;
  raw: NodeJS.ProcessEnv;
}

export function loadCliEnv(env: NodeJS.ProcessEnv): CliEnv {
  return {
    natsUrl: env.NATS_URL || undefined,
    databaseUrl: env.DATABASE_URL || undefined,
    prefix: env.TENDON_PREFIX || "tendon",
    dbSchema: env.TENDON_DB_SCHEMA || "session_log",
    port: Number(env.PORT || 8080),
    devWorkers: Number(env.TENDON_DEV_WORKERS || 2),
    anthropicKey: env.ANTHROPIC_API_KEY || undefined,
    anthropicAuthToken: env.ANTHROPIC_AUTH_TOKEN || undefined,
    anthropicBaseUrl: env.ANTHROPIC_BASE_URL || undefined,
    raw: env,
  };
}
