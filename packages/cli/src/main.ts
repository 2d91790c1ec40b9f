#!/usr/bin/env node
/**
 * The `tendon` command.
 */
import { parseArgs } from "node:util";
import { createDb, migrateToLatest, provisionRoles } from "@tendon/db";
import { loadCliEnv } from "./config.js";
import { runDev } from "./dev.js";
import { serveHands } from "./hand.js";
import { createApiKey, rotateCredentials } from "./keys.js";
import { renderNatsConfig } from "./nats-config.js";

const HELP = `tendon — run and operate Tendon

Usage:
  tendon dev [--verbose]          run the whole stack locally (NATS, Postgres, all services, mock model)
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
  tendon help                     this text

Environment: NATS_URL, DATABASE_URL, TENDON_PREFIX (default "tendon"), PORT (dev gateway, default 8080),
ANTHROPIC_API_KEY / ANTHROPIC_BASE_URL (without a key, dev uses the bundled mock model).`;

const out = (line: string) => process.stdout.write(`${line}\n`);
const fail = (msg: string): never => {
  process.stderr.write(`tendon: ${msg}\n`);
  process.exit(1);
};

async function main(argv: string[]): Promise<void> {
  const [cmd, ...rest] = argv;
  const env = loadCliEnv(process.env);
  /** The operator's NATS connection: the server's admin user when it has users. */
  const natsTarget = () => ({
    natsUrl: env.natsUrl ?? "nats://127.0.0.1:4222",
    prefix: env.prefix,
    user: env.raw.NATS_USER,
    pass: env.raw.NATS_PASSWORD,
    token: env.raw.NATS_TOKEN,
  });
  switch (cmd) {
    case "dev": {
      const { values } = parseArgs({ args: rest, options: { verbose: { type: "boolean", short: "v" } } });
      const stop = await runDev(env, { verbose: values.verbose === true, out });
      let stopping = false;
      const onSignal = () => {
        if (stopping) process.exit(1);
        stopping = true;
        out("\nStopping…");
        void stop().then(() => process.exit(0));
      };
      process.on("SIGINT", onSignal);
      process.on("SIGTERM", onSignal);
      return;
    }
    case "migrate": {
      if (!env.databaseUrl) fail("DATABASE_URL is not set");
      const db = createDb({ url: env.databaseUrl!, schema: env.dbSchema });
      try {
        const r = await migrateToLatest(db);
        const applied = r.results?.filter((m) => m.status === "Success").map((m) => m.migrationName) ?? [];
        out(applied.length ? `applied: ${applied.join(", ")}` : "the database is up to date");
      } finally {
        await db.close();
      }
      return;
    }
    case "keys": {
      const { values, positionals } = parseArgs({
        args: rest,
        allowPositionals: true,
        options: {
          name: { type: "string", default: "cli" },
          environment: { type: "string" },
          json: { type: "boolean" },
        },
      });
      if (positionals[0] !== "create")
        fail(`unknown keys command "${positionals[0] ?? ""}"; try "tendon keys create"`);
      const r = await createApiKey({ ...natsTarget(), name: values.name! });
      out(values.json ? JSON.stringify(r) : r.key);
      return;
    }
    case "hand": {
      const { values, positionals } = parseArgs({
        args: rest,
        allowPositionals: true,
        options: { tool: { type: "string", multiple: true }, module: { type: "string", multiple: true } },
      });
      if (positionals[0] !== "serve")
        fail(`unknown hand command "${positionals[0] ?? ""}"; try "tendon hand serve"`);
      const served = await serveHands({
        natsUrl: env.natsUrl ?? "nats://127.0.0.1:4222",
        prefix: env.prefix,
        natsUser: env.raw.NATS_USER,
        natsPassword: env.raw.NATS_PASSWORD,
        natsToken: env.raw.NATS_TOKEN,
        commands: values.tool ?? [],
        modules: values.module ?? [],
        log: out,
      });
      out("ready: serving hands; Ctrl-C to stop");
      const stop = () => void served.stop().then(() => process.exit(0));
      process.on("SIGINT", stop);
      process.on("SIGTERM", stop);
      return;
    }
    case "db": {
      const { values, positionals } = parseArgs({
        args: rest,
        allowPositionals: true,
        options: {
          "session-log-role": { type: "string", default: "tendon_session_log" },
          "credentials-role": { type: "string", default: "tendon_credentials" },
        },
      });
      if (positionals[0] !== "roles")
        fail(`unknown db command "${positionals[0] ?? ""}"; try "tendon db roles"`);
      if (!env.databaseUrl) fail("DATABASE_URL (an admin connection to the target database) is not set");
      await provisionRoles(env.databaseUrl!, [
        {
          role: values["session-log-role"]!,
          schema: "session_log",
          password: env.raw.TENDON_SESSION_LOG_DB_PASSWORD,
        },
        {
          role: values["credentials-role"]!,
          schema: "credentials",
          password: env.raw.TENDON_CREDENTIALS_DB_PASSWORD,
        },
      ]);
      out(
        `roles ready: ${values["session-log-role"]} owns session_log, ${values["credentials-role"]} owns credentials`,
      );
      return;
    }
    case "credentials": {
      const { positionals } = parseArgs({ args: rest, allowPositionals: true, options: {} });
      if (positionals[0] !== "rotate")
        fail(`unknown credentials command "${positionals[0] ?? ""}"; try "tendon credentials rotate"`);
      const r = await rotateCredentials(natsTarget());
      out(`re-sealed ${r.resealed} secret(s) under master key ${r.key_id}`);
      return;
    }
    case "nats-config": {
      const { values } = parseArgs({
        args: rest,
        options: { prefix: { type: "string" }, port: { type: "string" } },
      });
      out(
        renderNatsConfig({
          prefix: values.prefix ?? env.prefix,
          ...(values.port ? { port: Number(values.port) } : {}),
        }),
      );
      return;
    }
    case undefined:
    case "help":
    case "--help":
    case "-h":
      out(HELP);
      return;
    default:
      fail(`unknown command "${cmd}"\n\n${HELP}`);
  }
}

main(process.argv.slice(2)).catch((err: unknown) => fail(err instanceof Error ? err.message : String(err)));
