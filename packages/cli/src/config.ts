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
  /** The gateway the API commands talk to (TENDON_URL). */
  apiUrl: string | undefined;
  /** The API key they send (TENDON_API_KEY). */
  apiKey: string | undefined;
  /** ANSI colours off (NO_COLOR, https://no-color.org) or forced on (FORCE_COLOR). */
  color: "never" | "always" | "auto";
  raw: NodeJS.ProcessEnv;
}

/** Where the API commands go when neither TENDON_URL nor --url says otherwise (tendon dev's default). */
export const DEFAULT_API_URL = "http://127.0.0.1:8080";

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
    apiUrl: env.TENDON_URL || undefined,
    apiKey: env.TENDON_API_KEY || undefined,
    color: env.NO_COLOR ? "never" : env.FORCE_COLOR && env.FORCE_COLOR !== "0" ? "always" : "auto",
    raw: env,
  };
}
