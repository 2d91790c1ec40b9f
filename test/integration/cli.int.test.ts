/**
 * The `tendon` CLI against a real stack: `run` and `tail` in a pseudo-terminal (spinner, folded
 * tool lines, streamed text, usage, Ctrl-C, exit status, reconnection without duplicates or
 * gaps), the CRUD commands' `--json` output, and the errors a person gets for a wrong key, an
 * unreachable gateway and a missing key.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type Anthropic from "@anthropic-ai/sdk";
import { REPO_ROOT } from "@tendon/cli";
import { freePort, waitFor } from "@tendon/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ONE_REPLY_TURN } from "../support/log.js";
import { type CuttableProxy, plainText, runInPty, screenText, startCuttableProxy } from "../support/pty.js";
import { startTestStack, type TestStack } from "../support/stack.js";

const CLI = join(REPO_ROOT, "packages", "cli", "dist", "main.js");
let t: TestStack;
let home: string;

beforeAll(async () => {
  t = await startTestStack();
  // An empty HOME: no ~/.tendon/dev.json of a developer's `tendon dev` can leak in.
  home = mkdtempSync(join(tmpdir(), "tendon-cli-home-"));
});
afterAll(async () => {
  await t?.stop();
  if (home) rmSync(home, { recursive: true, force: true });
});

const cliEnv = (extra: Record<string, string> = {}) => ({
  HOME: home,
  TENDON_URL: t.stack.url,
  TENDON_API_KEY: t.apiKey,
  ...extra,
});

/** Runs the CLI without a terminal: stdout, stderr and the exit status. */
function cli(
  args: string[],
  env: Record<string, string> = cliEnv(),
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { env: { PATH: process.env.PATH ?? "", ...env }, timeout: 60_000 },
      (err, stdout, stderr) => {
        const code = err ? ((err as { code?: unknown }).code as number) : 0;
        resolve({ code: typeof code === "number" ? code : 1, stdout, stderr });
      },
    );
  });
}

const uniqueModel = (tag: string) => `mock-cli-${tag}-${Math.random().toString(36).slice(2, 8)}`;

describe("tendon run (in a terminal)", () => {
  it("shows the spinner, the text, each tool call and result on one line, and the usage; exits 0", async () => {
    const model = uniqueModel("run");
    t.mock.script(model, {
      steps: [
        {
          content: [
            { type: "text", text: "Let me look." },
            { type: "tool_use", name: "bash", input: { command: "echo hello-from-bash; echo line2" } },
          ],
          usage: { input_tokens: 1200, output_tokens: 30 },
        },
        {
          content: [{ type: "text", text: "All done: two lines." }],
          usage: { input_tokens: 1300, output_tokens: 9 },
        },
      ],
    });
    const pty = runInPty([process.execPath, CLI, "run", "list things", "--model", model], { env: cliEnv() });
    expect(await pty.exited).toBe(0);
    const raw = pty.raw();
    const screen = screenText(raw);
    expect(plainText(raw)).toMatch(/⠋ thinking…/); // the spinner was drawn (then erased)
    expect(plainText(raw)).toMatch(/[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] running bash…/); // and while the tool ran
    expect(raw).toContain("\x1b[36m"); // colours on a terminal
    expect(screen).toMatch(/^session sesn_\w+ · tendon tail sesn_\w+/m);
    expect(screen).toContain("Let me look.\n");
    expect(screen).toMatch(/^⚙ bash echo hello-from-bash; echo line2$/m);
    expect(screen).toMatch(/^ {2}↳ ok \(2 lines\): hello-from-bash line2$/m);
    expect(screen).toContain("All done: two lines.\n");
    expect(screen).toMatch(/^usage: 2,500 input \+ 39 output tokens · 2 model requests$/m);
    expect(screen).not.toMatch(/thinking…/); // no spinner left on screen
    // The agent and environment it made are reused by the next run with the same settings.
    const agents = await t.client.beta.agents.list({ limit: 100 });
    expect(agents.data.filter((a) => a.name === "tendon-run" && a.model.id === model)).toHaveLength(1);
  });

  it("Ctrl-C sends an interrupt and exits 130", async () => {
    const model = uniqueModel("hang");
    t.mock.script(model, {
      steps: [{ content: [{ type: "text", text: "never" }], failures: [{ hang: true }] }],
    });
    const pty = runInPty([process.execPath, CLI, "run", "take your time", "--model", model, "--no-tools"], {
      env: cliEnv(),
    });
    await pty.waitFor(/thinking…/);
    await waitFor(() => t.mock.requests(model).length === 1, { message: "the model call in flight" });
    pty.type("\x03");
    expect(await pty.exited).toBe(130);
    expect(screenText(pty.raw())).toContain("interrupting the agent");
    const id = /session (sesn_\w+)/.exec(pty.raw())?.[1];
    expect(id).toBeDefined();
    await waitFor(
      async () => {
        const events = await t.client.beta.sessions.events.list(id!, { limit: 100 });
        return (
          events.data.some((e) => e.type === "user.interrupt") &&
          events.data.at(-1)?.type === "session.status_idle"
        );
      },
      { message: "the interrupt reached the session and it idled" },
    );
  });

  it("exits 1 and shows the error when the turn fails", async () => {
    const model = uniqueModel("fail");
    t.mock.script(model, {
      steps: [
        {
          content: [{ type: "text", text: "unreachable" }],
          failures: [{ status: 500 }, { status: 500 }, { status: 500 }, { status: 500 }, { status: 500 }],
        },
      ],
    });
    const pty = runInPty([process.execPath, CLI, "run", "fail please", "--model", model, "--no-tools"], {
      env: cliEnv(),
    });
    expect(await pty.exited).toBe(1);
    const screen = screenText(pty.raw());
    expect(screen).toMatch(/^✗ \w+_error: .*$/m);
    expect(screen).toMatch(/^✗ the turn ended: retries_exhausted$/m);
    expect(pty.raw()).toContain("\x1b[31m✗"); // in red
  });

  it("--json prints every event as one JSON line, without a terminal", async () => {
    const model = uniqueModel("json");
    t.mock.script(model, { steps: [{ content: [{ type: "text", text: "plain answer" }] }] });
    const r = await cli(["run", "hi", "--model", model, "--no-tools", "--json"]);
    expect(r.code).toBe(0);
    const events = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { type: string; id: string });
    expect(events.map((e) => e.type)).toEqual(ONE_REPLY_TURN);
    expect(r.stderr).toMatch(/^session sesn_/);
  });
});

describe("tendon tail (in a terminal)", () => {
  let proxy: CuttableProxy;
  beforeAll(async () => {
    proxy = await startCuttableProxy(t.stack.url);
  });
  afterAll(async () => {
    await proxy?.close();
  });

  it("reconnects after the connection drops and prints every event once", async () => {
    const model = uniqueModel("tail");
    t.mock.script(model, {
      steps: [
        {
          content: [
            { type: "text", text: "part one" },
            { type: "tool_use", name: "pause", input: { why: "wait" } },
          ],
        },
        { content: [{ type: "text", text: "part two" }] },
      ],
    });
    const agent = await t.client.beta.agents.create({
      name: model,
      model,
      tools: [{ type: "custom", name: "pause", description: "wait", input_schema: { type: "object" } }],
    });
    const env = await t.client.beta.environments.create({ name: `cli-tail-${model}` });
    const session = await t.client.beta.sessions.create({ agent: agent.id, environment_id: env.id });
    const viaProxy = cliEnv({ TENDON_URL: proxy.url });
    const human = runInPty([process.execPath, CLI, "tail", session.id, "--until-idle"], { env: viaProxy });
    const json = runInPty(
      [process.execPath, CLI, "tail", session.id, "--until-idle", "--json", "--history", "all"],
      {
        env: viaProxy,
      },
    );
    await human.waitFor(/following sesn_/);
    // Both tails are connected (each holds its stream open) before the turn starts.
    await waitFor(() => proxy.accepted() >= 4, { message: "both tails connected" });

    await t.client.beta.sessions.events.send(session.id, {
      events: [{ type: "user.message", content: [{ type: "text", text: "go" }] }],
    });
    await human.waitFor(/waiting for input: pause/);
    await json.waitFor(/"requires_action"/);

    // Cut every connection; the rest of the turn happens while both tails are disconnected.
    proxy.cut();
    await human.waitFor(/reconnecting in/);
    const pause = (await t.client.beta.sessions.events.list(session.id, { limit: 100 })).data.find(
      (e) => e.type === "agent.custom_tool_use",
    )!;
    await t.client.beta.sessions.events.send(session.id, {
      events: [
        {
          type: "user.custom_tool_result",
          custom_tool_use_id: pause.id,
          content: [{ type: "text", text: "ok" }],
        },
      ],
    });
    await waitFor(
      async () => {
        const all = await t.client.beta.sessions.events.list(session.id, { limit: 100 });
        const last = all.data.at(-1);
        return last?.type === "session.status_idle" && last.stop_reason.type === "end_turn";
      },
      { message: "the turn ended while the tails were cut off", timeoutMs: 20_000 },
    );
    proxy.resume();

    expect(await human.exited).toBe(0);
    expect(await json.exited).toBe(0);
    const all = (await t.client.beta.sessions.events.list(session.id, { limit: 1000 })).data;

    // --json: exactly the session's events, in order, each once.
    const lines = screenText(json.raw())
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as { id: string });
    expect(lines.map((e) => e.id)).toEqual(all.map((e) => e.id));

    // The human view: each line once, the turn's end after the reconnect.
    const screen = screenText(human.raw());
    const count = (re: RegExp) => screen.split("\n").filter((l) => re.test(l)).length;
    expect(count(/^› go$/)).toBe(1);
    expect(count(/^part one$/)).toBe(1);
    expect(count(/^⚙ pause \{"why":"wait"\}$/)).toBe(1);
    expect(count(/^ {2}↳ ok: ok$/)).toBe(1);
    expect(count(/^part two$/)).toBe(1);
    expect(screen.indexOf("part two")).toBeGreaterThan(screen.indexOf("reconnecting in"));
  });
});

describe("resource commands", () => {
  it("create, get, list, update, archive and delete with --json output", async () => {
    const body = join(home, "agent.json");
    writeFileSync(
      body,
      JSON.stringify({ name: "from-file", model: "claude-sonnet-4-6", system: "be brief" }),
    );
    const created = await cli(["agents", "create", "--file", body, "--name", "cli-agent", "--json"]);
    expect(created.code).toBe(0);
    const agent = JSON.parse(created.stdout) as Anthropic.Beta.Agents.BetaManagedAgentsAgent;
    expect(agent).toMatchObject({ type: "agent", name: "cli-agent", system: "be brief", version: 1 });

    const updated = JSON.parse(
      (await cli(["agents", "update", agent.id, "--system", "be terse", "--json"])).stdout,
    );
    expect(updated).toMatchObject({ id: agent.id, system: "be terse", version: 2 });
    const list = JSON.parse((await cli(["agents", "list", "--json"])).stdout) as Array<{ id: string }>;
    expect(list.map((a) => a.id)).toContain(agent.id);
    const table = await cli(["agents", "list"]);
    expect(table.stdout).toMatch(/^ID\s+NAME\s+MODEL\s+VERSION\s+CREATED$/m);
    expect(table.stdout).toMatch(new RegExp(`^${agent.id}\\s+cli-agent\\s+claude-sonnet-4-6\\s+2\\s`, "m"));

    const envId = (await cli(["environments", "create", "--name", `cli-env-${agent.id}`])).stdout.trim();
    expect(envId).toMatch(/^env_/);
    const session = JSON.parse(
      (
        await cli([
          "sessions",
          "create",
          "--agent",
          agent.id,
          "--environment",
          envId,
          "--title",
          "from cli",
          "--json",
        ])
      ).stdout,
    );
    expect(session).toMatchObject({
      type: "session",
      status: "idle",
      title: "from cli",
      environment_id: envId,
    });
    const sessions = JSON.parse((await cli(["sessions", "list", "--agent", agent.id, "--json"])).stdout);
    expect(sessions.map((s: { id: string }) => s.id)).toEqual([session.id]);
    expect(JSON.parse((await cli(["sessions", "archive", session.id, "--json"])).stdout)).toMatchObject({
      id: session.id,
    });
    expect(JSON.parse((await cli(["sessions", "delete", session.id, "--json"])).stdout)).toEqual({
      id: session.id,
      type: "session_deleted",
    });

    const vault = JSON.parse((await cli(["vaults", "create", "--name", "cli vault", "--json"])).stdout);
    expect(vault).toMatchObject({ type: "vault", display_name: "cli vault" });
    expect((await cli(["vaults", "delete", vault.id])).stdout).toBe(`deleted ${vault.id}\n`);
    expect(
      JSON.parse((await cli(["agents", "archive", agent.id, "--json"])).stdout).archived_at,
    ).toBeTruthy();
    const active = JSON.parse((await cli(["agents", "list", "--json"])).stdout) as Array<{ id: string }>;
    expect(active.map((a) => a.id)).not.toContain(agent.id);
  });

  it("says in a sentence what is wrong: a bad key, no gateway, no key, a bad flag", async () => {
    const wrongKey = await cli(["agents", "list"], cliEnv({ TENDON_API_KEY: "sk-tnd-api-wrong" }));
    expect(wrongKey.code).toBe(1);
    expect(wrongKey.stderr).toMatch(/^tendon: the gateway at http:\/\/127\.0\.0\.1:\d+ refused the API key/);
    expect(wrongKey.stderr).toContain("TENDON_API_KEY");
    expect(wrongKey.stderr).not.toContain("sk-tnd-api-wrong");
    expect(wrongKey.stdout).toBe("");

    const port = await freePort();
    const down = await cli(["sessions", "list"], cliEnv({ TENDON_URL: `http://127.0.0.1:${port}` }));
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(
      new RegExp(
        `^tendon: cannot reach the Tendon gateway at http://127\\.0\\.0\\.1:${port} \\(connection refused\\)`,
      ),
    );

    const noKey = await cli(["run", "hi"], { HOME: home, TENDON_URL: t.stack.url });
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toMatch(/no API key .*TENDON_API_KEY/);

    const badFlag = await cli(["tail", "sesn_x", "--histroy", "3"]);
    expect(badFlag.code).toBe(2);
    expect(badFlag.stderr).toMatch(/Unknown option '--histroy'[\s\S]*tendon tail --help/);

    const help = await cli(["run", "--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^tendon run "<prompt>"/);
  });
});
