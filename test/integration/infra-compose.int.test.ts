/**
 * infra/compose.yaml, checked offline: Debian's docker-compose validates it (`config -q`, skipped
 * with the reason when the binary is absent), nats-server accepts the NATS config it mounts, and
 * the structural rules of the deployment hold — healthchecks everywhere, a scalable harness-worker,
 * secrets only by reference, each service on the networks and NATS user its role allows.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";

const ROOT = join(import.meta.dirname, "..", "..");
const COMPOSE = join(ROOT, "infra", "compose.yaml");
const ENV_EXAMPLE = join(ROOT, "infra", "compose.env.example");
const NATS_CONF = join(ROOT, "infra", "nats", "nats.conf");

interface Service {
  image?: string;
  container_name?: string;
  ports?: unknown[];
  profiles?: string[];
  healthcheck?: { test?: unknown; disable?: boolean };
  depends_on?: Record<string, { condition: string }>;
  environment?: Record<string, string>;
  env_file?: unknown;
  networks?: string[];
  volumes?: string[];
  restart?: string;
  stop_grace_period?: string;
  security_opt?: string[];
}
const doc = parse(readFileSync(COMPOSE, "utf8"), { merge: true }) as {
  name?: string;
  services: Record<string, Service>;
  networks: Record<string, { internal?: boolean }>;
  volumes: Record<string, unknown>;
};
const services = doc.services;
const LONG_RUNNING = Object.keys(services).filter((s) => services[s]!.restart !== "no");
const TENDON = ["gateway", "session-log", "harness-worker", "sandbox-manager", "credential-proxy"];

function which(cmd: string): string | undefined {
  const r = spawnSync("sh", ["-c", `command -v ${cmd}`], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim() : undefined;
}
const dockerCompose = which("docker-compose");

function exampleEnv(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of readFileSync(ENV_EXAMPLE, "utf8").split("\n")) {
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line);
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

describe("infra/compose.yaml", () => {
  it.skipIf(!dockerCompose)(
    "is valid for docker-compose with the example env file (needs the docker-compose binary)",
    () => {
      const args = ["--env-file", ENV_EXAMPLE, "-f", COMPOSE];
      execFileSync(dockerCompose!, [...args, "config", "-q"], { cwd: ROOT, stdio: "pipe" });
      const withMock = execFileSync(dockerCompose!, [...args, "--profile", "mock", "config", "--services"], {
        cwd: ROOT,
        encoding: "utf8",
      });
      expect(withMock.split("\n")).toContain("mock-model");
      // Without the env file every secret is missing: compose refuses instead of defaulting one.
      const bare = spawnSync(dockerCompose!, ["-f", COMPOSE, "config", "-q"], {
        cwd: ROOT,
        encoding: "utf8",
        env: { PATH: process.env.PATH ?? "" },
      });
      expect(bare.status).not.toBe(0);
      expect(bare.stderr).toMatch(/PASSWORD|SECRET|KEY/);
    },
  );

  it.skipIf(!which("nats-server"))(
    "mounts a NATS config that nats-server accepts (needs the nats-server binary)",
    () => {
      const ok = spawnSync("nats-server", ["--config", NATS_CONF, "-t"], {
        encoding: "utf8",
        env: { PATH: process.env.PATH ?? "", ...exampleEnv() },
      });
      expect(ok.status, ok.stderr).toBe(0);
      const bare = spawnSync("nats-server", ["--config", NATS_CONF, "-t"], {
        encoding: "utf8",
        env: { PATH: process.env.PATH ?? "" },
      });
      expect(bare.status).not.toBe(0);
    },
  );

  it("has no top-level name and no fixed container names", () => {
    expect(doc.name).toBeUndefined();
    for (const [name, s] of Object.entries(services)) expect(s.container_name, name).toBeUndefined();
  });

  it("gives every long-running service a healthcheck, and dependants wait for it", () => {
    expect(LONG_RUNNING).toEqual(expect.arrayContaining([...TENDON, "nats", "postgres", "mock-model"]));
    for (const name of LONG_RUNNING) {
      const hc = services[name]!.healthcheck;
      expect(hc?.test, `${name} has no healthcheck`).toBeDefined();
      expect(hc?.disable, name).not.toBe(true);
    }
    for (const name of TENDON) {
      expect(JSON.stringify(services[name]!.healthcheck?.test), name).toContain(":9464/healthz");
      expect(services[name]!.environment?.OPS_PORT, name).toBe("9464");
      const deps = services[name]!.depends_on ?? {};
      expect(deps.nats?.condition, name).toBe("service_healthy");
      for (const [dep, { condition }] of Object.entries(deps)) {
        const expected =
          services[dep]!.restart === "no" ? "service_completed_successfully" : "service_healthy";
        expect(condition, `${name} -> ${dep}`).toBe(expected);
      }
    }
    expect(services["session-log"]!.depends_on?.migrate?.condition).toBe("service_completed_successfully");
  });

  it("keeps the harness-worker scalable: no container_name, no host ports, a stop grace above its own", () => {
    const hw = services["harness-worker"]!;
    expect(hw.container_name).toBeUndefined();
    expect(hw.ports).toBeUndefined();
    const graceMs = Number(hw.environment?.HARNESS_SHUTDOWN_GRACE_MS);
    expect(Number.parseInt(hw.stop_grace_period ?? "10s", 10) * 1000).toBeGreaterThan(graceMs);
  });

  it("runs NATS 2.9+ with JetStream on a volume, Postgres on a volume, the mock model under a profile", () => {
    const nats = services.nats!;
    const [major, minor] = (/:(\d+)\.(\d+)/.exec(nats.image ?? "") ?? []).slice(1).map(Number);
    expect(major! * 100 + minor!).toBeGreaterThanOrEqual(209);
    expect(readFileSync(NATS_CONF, "utf8")).toMatch(/jetstream\s*\{\s*store_dir:\s*"\/data"/);
    expect(nats.volumes).toContain("nats-data:/data");
    expect(services.postgres!.volumes).toContain("postgres-data:/var/lib/postgresql/data");
    expect(Object.keys(doc.volumes)).toEqual(expect.arrayContaining(["nats-data", "postgres-data"]));
    expect(services["mock-model"]!.profiles).toEqual(["mock"]);
  });

  it("holds no secret inline: every password, key, secret and database URL is a required reference", () => {
    const SECRET_NAME = /PASSWORD|SECRET|MASTER_KEY|API_KEY|TOKEN|DATABASE_URL/;
    let checked = 0;
    for (const [name, s] of Object.entries(services)) {
      expect(s.env_file, `${name}: env_file would hand it every secret`).toBeUndefined();
      for (const [k, v] of Object.entries(s.environment ?? {})) {
        if (!SECRET_NAME.test(k) || k === "NATS_USER") continue;
        checked++;
        expect(String(v), `${name}.${k}`).toMatch(/\$\{[A-Z_]+:\?[^}]*\}/);
      }
    }
    expect(checked).toBeGreaterThan(10);
    expect(readFileSync(NATS_CONF, "utf8")).not.toMatch(/password:\s*"/);
  });

  it("gives each service its own NATS user, whose password only it and nats-server get", () => {
    const conf = readFileSync(NATS_CONF, "utf8");
    const users = [...conf.matchAll(/user:\s*"([a-z_]+)"/g)].map((m) => m[1]!);
    const seen = new Set<string>();
    for (const name of TENDON) {
      const env = services[name]!.environment!;
      const user = env.NATS_USER!;
      expect(users, name).toContain(user);
      expect(seen.has(user), `${user} shared`).toBe(false);
      seen.add(user);
      expect(env.NATS_PASSWORD).toContain(`TENDON_NATS_${user.toUpperCase()}_PASSWORD:?`);
    }
    for (const [name, s] of Object.entries(services)) {
      if (name === "nats") continue;
      for (const [k, v] of Object.entries(s.environment ?? {})) {
        const other = /TENDON_NATS_([A-Z_]+)_PASSWORD/.exec(String(v))?.[1]?.toLowerCase();
        if (other) expect(`${name}.${k} uses ${other}`).toBe(`${name}.${k} uses ${s.environment?.NATS_USER}`);
      }
    }
  });

  it("puts Postgres only within reach of session-log, credential-proxy and the migrate job", () => {
    for (const n of ["data", "bus", "sandbox"]) expect(doc.networks[n]?.internal, n).toBe(true);
    const onData = Object.keys(services).filter((n) => services[n]!.networks?.includes("data"));
    expect(onData.sort()).toEqual(["credential-proxy", "migrate", "postgres", "session-log"]);
    expect(services.postgres!.networks).toEqual(["data"]);
    // The sandboxes' host reaches NATS and the egress proxy, nothing else.
    expect(services["sandbox-manager"]!.networks?.sort()).toEqual(["bus", "sandbox"]);
    const onSandbox = Object.keys(services).filter((n) => services[n]!.networks?.includes("sandbox"));
    expect(onSandbox.sort()).toEqual(["credential-proxy", "sandbox-manager"]);
    expect(services["sandbox-manager"]!.environment?.TENDON_EGRESS_ADDR).toBe("credential-proxy:3128");
    expect(services["credential-proxy"]!.environment?.TENDON_EGRESS_PORT).toBe("3128");
    expect(services["sandbox-manager"]!.security_opt).toContain("seccomp=unconfined");
  });
});
