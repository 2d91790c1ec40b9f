/**
 * `tendon help`: the overview. Each command also answers `--help` with its own page.
 */
export const HELP = `tendon — run and operate Tendon

Talk to a gateway (TENDON_URL, default http://127.0.0.1:8080; key in TENDON_API_KEY):
  tendon run "<prompt>" [--agent ID | --model M --system S] [--environment ID] [--json]
                                  run one turn of an agent and watch it live (spinner, text,
                                  tool calls folded to one line, token usage at the end)
  tendon tail <session_id> [--history N|all] [--until-idle] [--json]
                                  follow a session's events; reconnects without gaps or repeats
  tendon agents list|get|create|update|archive
  tendon environments list|get|create|update|archive|delete
  tendon sessions list|get|create|update|archive|delete
  tendon vaults list|get|create|update|archive|delete
                                  manage resources (tables, or --json for scripts)

Run and operate the platform (NATS_URL, DATABASE_URL, TENDON_PREFIX):
  tendon dev [--verbose]          run the whole stack locally (NATS, Postgres, all services, mock model);
                                  prints the URL and an API key, which the commands above then use
  tendon migrate                  apply database migrations (DATABASE_URL)
  tendon db roles                 create the session-log and credential-proxy database roles, each
                                  owning its schema only (admin DATABASE_URL; passwords from
                                  TENDON_SESSION_LOG_DB_PASSWORD / TENDON_CREDENTIALS_DB_PASSWORD)
  tendon keys create [--name N] [--environment env_...] [--json]
                                  mint an API key, or an environment key for a self-hosted
                                  environment's workers (NATS_URL, TENDON_PREFIX)
  tendon hand serve --tool NAME=COMMAND [--tool ...] [--module ./tools.mjs]
                                  serve custom tools from this machine as hands (NATS_URL,
                                  TENDON_PREFIX, NATS_USER/NATS_PASSWORD or NATS_TOKEN)
  tendon credentials rotate       re-seal every stored secret under the credential-proxy's current master key
  tendon nats-config [--prefix P] print a nats-server config with one least-privilege user per role
  tendon bench [names...] [--smoke]
                                  run the benchmarks (bench/dist/run.js)
  tendon help [command]           this text, or a command's own (also: tendon <command> --help)

API commands take --url and --api-key (over TENDON_URL / TENDON_API_KEY); with neither key set,
they use the key of a "tendon dev" running at that URL. Exit status: 0 done, 1 failed, 2 bad usage,
3 the session waits for input, 130 interrupted.

Environment: NATS_URL, DATABASE_URL, TENDON_PREFIX (default "tendon"), PORT (dev gateway, default 8080),
ANTHROPIC_API_KEY / ANTHROPIC_BASE_URL (without a key, dev uses the bundled mock model),
TENDON_URL, TENDON_API_KEY, NO_COLOR.`;
