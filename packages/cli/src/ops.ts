/**
 * The operator commands: `dev`, `migrate`, `db roles`, `keys create`, `hand serve`,
 * `credentials rotate`, `nats-config`. They talk to NATS and Postgres directly, not to a gateway.
 */
import { createDb, migrateToLatest, provisionRoles } from "@tendon/db";
import { type Ctx, parse } from "./context.js";
import { runDev } from "./dev.js";
import { EXIT, UsageError } from "./errors.js";
import { serveHands } from "./hand.js";
import { createApiKey, rotateCredentials } from "./keys.js";
import { renderNatsConfig } from "./nats-config.js";

/** What the command leaves running: resolved when it should exit, with its status. */
export type Outcome = number | "running";

export async function opsCommand(ctx: Ctx, cmd: string, rest: string[]): Promise<Outcome> {
  const { env } = ctx;
  const out = (line: string) => ctx.out.write(`${line}\n`);
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
      const { values } = parse("dev", rest, { verbose: { type: "boolean", short: "v" } });
      const stop = await runDev(env, { verbose: values.verbose === true, out });
      let stopping = false;
      const onSignal = () => {
        if (stopping) process.exit(1);
        stopping = true;
        out("\nStopping…");
        void stop().then(() => process.exit(0));
      };
      ctx.onInterrupt(onSignal);
      process.on("SIGTERM", onSignal);
      return "running";
    }
    case "migrate": {
      if (!env.databaseUrl) throw new UsageError("DATABASE_URL is not set");
      const db = createDb({ url: env.databaseUrl, schema: env.dbSchema });
      try {
        const r = await migrateToLatest(db);
        const applied = r.results?.filter((m) => m.status === "Success").map((m) => m.migrationName) ?? [];
        out(applied.length ? `applied: ${applied.join(", ")}` : "the database is up to date");
      } finally {
        await db.close();
      }
      return EXIT.ok;
    }
    case "keys": {
      const { values, positionals } = parse("keys", rest, {
        name: { type: "string", default: "cli" },
        environment: { type: "string" },
        json: { type: "boolean" },
      });
      if (positionals[0] !== "create")
        throw new UsageError(`unknown keys command "${positionals[0] ?? ""}"; try "tendon keys create"`);
      const r = await createApiKey({ ...natsTarget(), name: values.name });
      out(values.json ? JSON.stringify(r) : r.key);
      return EXIT.ok;
    }
    case "hand": {
      const { values, positionals } = parse("hand", rest, {
        tool: { type: "string", multiple: true },
        module: { type: "string", multiple: true },
      });
      if (positionals[0] !== "serve")
        throw new UsageError(`unknown hand command "${positionals[0] ?? ""}"; try "tendon hand serve"`);
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
      ctx.onInterrupt(stop);
      process.on("SIGTERM", stop);
      return "running";
    }
    case "db": {
      const { values, positionals } = parse("db", rest, {
        "session-log-role": { type: "string", default: "tendon_session_log" },
        "credentials-role": { type: "string", default: "tendon_credentials" },
      });
      if (positionals[0] !== "roles")
        throw new UsageError(`unknown db command "${positionals[0] ?? ""}"; try "tendon db roles"`);
      if (!env.databaseUrl)
        throw new UsageError("DATABASE_URL (an admin connection to the target database) is not set");
      await provisionRoles(env.databaseUrl, [
        {
          role: values["session-log-role"],
          schema: "session_log",
          password: env.raw.TENDON_SESSION_LOG_DB_PASSWORD,
        },
        {
          role: values["credentials-role"],
          schema: "credentials",
          password: env.raw.TENDON_CREDENTIALS_DB_PASSWORD,
        },
      ]);
      out(
        `roles ready: ${values["session-log-role"]} owns session_log, ${values["credentials-role"]} owns credentials`,
      );
      return EXIT.ok;
    }
    case "credentials": {
      const { positionals } = parse("credentials", rest, {});
      if (positionals[0] !== "rotate")
        throw new UsageError(
          `unknown credentials command "${positionals[0] ?? ""}"; try "tendon credentials rotate"`,
        );
      const r = await rotateCredentials(natsTarget());
      out(`re-sealed ${r.resealed} secret(s) under master key ${r.key_id}`);
      return EXIT.ok;
    }
    case "nats-config": {
      const { values } = parse("nats-config", rest, { prefix: { type: "string" }, port: { type: "string" } });
      out(
        renderNatsConfig({
          prefix: values.prefix ?? env.prefix,
          ...(values.port ? { port: Number(values.port) } : {}),
        }),
      );
      return EXIT.ok;
    }
    default:
      throw new UsageError(`unknown command "${cmd}"`);
  }
}
