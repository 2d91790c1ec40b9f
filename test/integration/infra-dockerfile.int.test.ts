/**
 * The root Dockerfile, checked offline (no Docker engine here): dockerfile-utils' validator finds
 * no errors, and the repository's own rules hold for every image we ship — each final stage runs
 * as a non-root user, each service has a HEALTHCHECK on its ops port, the base image is pinned to
 * a full version, the build deploys every service, and the sandbox-manager image has bubblewrap.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { DockerfileParser, type Instruction } from "dockerfile-ast";
import { validate } from "dockerfile-utils";
import { describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..", "..");
const TEXT = readFileSync(join(ROOT, "Dockerfile"), "utf8");

const SERVICES = ["gateway", "session-log", "harness-worker", "sandbox-manager", "credential-proxy"];
const TARGETS = [...SERVICES, "cli", "mock-model", "sandbox"];

interface Stage {
  name: string;
  from: string;
  tag: string | null;
  digest: string | null;
  instructions: Instruction[];
}

function stagesOf(text: string): Map<string, Stage> {
  const df = DockerfileParser.parse(text);
  const out = new Map<string, Stage>();
  let current: Stage | undefined;
  for (const ins of df.getInstructions()) {
    if (ins.getKeyword() === "FROM") {
      const from = df.getFROMs().find((f) => f.getRange().start.line === ins.getRange().start.line)!;
      const name = from.getBuildStage() ?? `#${out.size}`;
      current = {
        name,
        from: from.getImageName() ?? "",
        tag: from.getImageTag(),
        digest: from.getImageDigest(),
        instructions: [],
      };
      out.set(name, current);
    } else current?.instructions.push(ins);
  }
  return out;
}

/** The last value of `keyword` in this stage or, failing that, the stage it is built FROM. */
function effective(stages: Map<string, Stage>, name: string, keyword: string): string | undefined {
  for (let s = stages.get(name); s; s = stages.get(s.from)) {
    const hit = s.instructions.filter((i) => i.getKeyword() === keyword).at(-1);
    if (hit) return hit.getArgumentsContent() ?? "";
  }
  return undefined;
}

const stages = stagesOf(TEXT);
const LINES = TEXT.split("\n");
/** An instruction's text as written, flags included. */
const raw = (ins: Instruction) =>
  LINES.slice(ins.getRange().start.line, ins.getRange().end.line + 1).join("\n");

describe("Dockerfile", () => {
  it("has no validator errors (and the validator does catch errors)", () => {
    const broken = validate("FROM node:20\nEXPOSE abc\nFOO bar\n").filter((d) => d.severity === 1);
    expect(broken.length).toBeGreaterThanOrEqual(2);
    const problems = validate(TEXT).map((d) => `line ${d.range.start.line + 1}: ${d.message}`);
    expect(problems).toEqual([]);
  });

  it("has a target for every service, the cli, the mock model and the sandbox", () => {
    expect([...stages.keys()]).toEqual(expect.arrayContaining(TARGETS));
  });

  it("pins every external base image to a full version or a digest", () => {
    const external = [...stages.values()].filter((s) => !stages.has(s.from));
    expect(external.length).toBeGreaterThan(0);
    for (const s of external) {
      const pinned = s.digest !== null || /^\d+\.\d+\.\d+/.test(s.tag ?? "");
      expect(pinned, `${s.name}: FROM ${s.from}:${s.tag ?? "(no tag)"}`).toBe(true);
    }
  });

  it("runs every final stage as a non-root user", () => {
    for (const t of TARGETS) {
      const user = effective(stages, t, "USER");
      expect(user, `${t} has no USER`).toBeDefined();
      expect(["root", "0", "0:0", "root:root"], `${t} runs as root`).not.toContain(user);
    }
  });

  it("gives every service a HEALTHCHECK on the ops port's /healthz", () => {
    for (const t of SERVICES) {
      const hc = effective(stages, t, "HEALTHCHECK") ?? "";
      expect(hc, t).toMatch(/CMD/);
      expect(hc, t).toContain("OPS_PORT");
      expect(hc, t).toContain("/healthz");
    }
    expect(effective(stages, "mock-model", "HEALTHCHECK")).toContain("/_mock/health");
    for (const t of TARGETS) expect(effective(stages, t, "HEALTHCHECK"), t).toBeDefined();
    expect(effective(stages, "gateway", "ENV")).toBeDefined();
    expect(TEXT).toMatch(/OPS_PORT=9464/);
  });

  it("deploys every service from the build stage and installs bubblewrap for the sandbox-manager", () => {
    const build = stages
      .get("build")!
      .instructions.map((i) => i.getArgumentsContent() ?? "")
      .join("\n");
    expect(build).toContain("--frozen-lockfile");
    expect(build).toMatch(/deploy --prod/);
    for (const t of TARGETS) {
      expect(build, `the build deploys ${t}`).toContain(t);
      const copy = stages.get(t)!.instructions.find((i) => i.getKeyword() === "COPY");
      expect(copy && raw(copy), t).toContain(`--from=build /out/${t} `);
    }
    const sbm = stages
      .get("sandbox-manager")!
      .instructions.map((i) => i.getArgumentsContent())
      .join("\n");
    expect(sbm).toMatch(/apt-get install[^\n]*bubblewrap/);
  });

  it("keeps host builds, dependencies and secrets out of the build context", () => {
    const ignore = readFileSync(join(ROOT, ".dockerignore"), "utf8").split("\n");
    for (const p of ["**/node_modules", "**/dist", ".git", ".env", "**/*.key", "infra/compose.env"]) {
      expect(ignore, p).toContain(p);
    }
  });
});
