/**
 * Repository resources through the egress proxy: a session's github_repository is cloned into its
 * sandbox at initialisation, and git pull and push work from inside it, while the token exists
 * only in the credential-proxy: not in the sandbox (env, .git/config, files), the event log, the
 * API's answers, the harness or sandbox-manager (memory and logs). The upstream is a real git
 * smart-HTTP server over HTTPS that demands the token. Clone failures are session.error events of
 * the spec's repository_* types; bad resource input is a 400 that creates nothing.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Anthropic from "@anthropic-ai/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GitRequest, startGitServer, type TestGitServer } from "../support/git-server.js";
import { processMemoryContains } from "../support/memscan.js";
import { collect, isEndTurn } from "../support/sse.js";
import { startTestStack, type TestStack } from "../support/stack.js";
import { makeCertificate } from "../support/tls.js";

const TOKEN = `ghs_${randomBytes(18).toString("hex")}`;
const HOST = "git.secure.test";
const REPO_URL = `https://${HOST}/org/repo.git`;
let dir: string;
let git: TestGitServer;
let t: TestStack;

function sh(args: string[], cwd?: string): string {
  return execFileSync("git", ["-c", "user.name=Test", "-c", "user.email=test@example.com", ...args], {
    cwd,
    encoding: "utf8",
  }).trim();
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "tendon-git-"));
  const root = join(dir, "srv");
  mkdirSync(join(root, "org"), { recursive: true });
  sh(["init", "-q", "--bare", "-b", "main", join(root, "org", "repo.git")]);
  const work = join(dir, "work");
  sh(["init", "-q", "-b", "main", work]);
  writeFileSync(join(work, "README"), "hello from main\n");
  sh(["add", "README"], work);
  sh(["commit", "-qm", "initial"], work);
  sh(["checkout", "-q", "-b", "feature"], work);
  writeFileSync(join(work, "FEATURE"), "feature work\n");
  sh(["add", "FEATURE"], work);
  sh(["commit", "-qm", "feature"], work);
  sh(["push", "-q", join(root, "org", "repo.git"), "main", "feature"], work);

  const tls = makeCertificate(dir, HOST);
  git = await startGitServer({ root, token: TOKEN, tls });
  t = await startTestStack({
    env: {
      TENDON_EGRESS_HOST_OVERRIDES: JSON.stringify({ [HOST]: `127.0.0.1:${git.port}` }),
      TENDON_EGRESS_EXTRA_CA_FILE: tls.certPath,
    },
  });
});

afterAll(async () => {
  await t?.stop();
  await git?.close();
  rmSync(dir, { recursive: true, force: true });
});

const say = (text: string) => ({ type: "user.message" as const, content: [{ type: "text" as const, text }] });
const bash = (command: string) => ({
  content: [{ type: "tool_use" as const, name: "bash", input: { command } }],
});
const textOf = (e: Anthropic.Beta.Sessions.BetaManagedAgentsAgentToolResultEvent) =>
  (e.content ?? []).map((b) => (b.type === "text" ? b.text : "")).join("");

async function apiError(p: Promise<unknown>): Promise<InstanceType<typeof Anthropic.APIError>> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(Anthropic.APIError);
  return e as InstanceType<typeof Anthropic.APIError>;
}

async function environment(): Promise<string> {
  // No hosts allowed: the repository attached to the session is the only grant.
  const env = await t.client.beta.environments.create({
    name: `git-${randomBytes(4).toString("hex")}`,
    config: { type: "cloud", networking: { type: "limited", allowed_hosts: [] } },
  });
  return env.id;
}

describe("repository resources", () => {
  it("clones at sandbox start and pulls and pushes from inside, with the token only in the proxy", async () => {
    const client = t.client;
    const model = `mock-git-${randomBytes(4).toString("hex")}`;
    t.mock.script(model, {
      steps: [
        bash(
          "cd /workspace/repo && git branch --show-current && cat FEATURE && git remote get-url origin && cat .git/config && env | sort && grep -rl . ~/.git-credentials ~/.gitconfig 2>&1; echo inspected",
        ),
        bash(
          "cd /workspace/repo && echo from-agent > AGENT && git add AGENT && git -c user.name=Agent -c user.email=agent@example.com commit -qm 'agent change' && git push -q origin feature 2>&1 && echo PUSHED",
        ),
        bash(
          "cd /workspace/repo && git reset -q --hard HEAD~1 && git pull -q --ff-only 2>&1 && git log -1 --format=%s && cat AGENT",
        ),
        { content: [{ type: "text" as const, text: "done" }] },
      ],
    });
    const agent = await client.beta.agents.create({
      name: "git",
      model,
      tools: [{ type: "agent_toolset_20260401" }],
    });
    const session = await client.beta.sessions.create({
      agent: agent.id,
      environment_id: await environment(),
      resources: [
        {
          type: "github_repository",
          url: REPO_URL,
          authorization_token: TOKEN,
          checkout: { type: "branch", name: "feature" },
        },
      ],
    });
    expect(session.resources).toEqual([
      expect.objectContaining({
        type: "github_repository",
        url: REPO_URL,
        mount_path: "/workspace/repo",
        checkout: { type: "branch", name: "feature" },
      }),
    ]);
    const resourceId = (session.resources[0] as { id: string }).id;
    expect(resourceId).toMatch(/^sesrsc_/);

    const stream = await collect(client, session.id);
    await client.beta.sessions.events.send(session.id, { events: [say("work on the repo")] });
    const got = await stream.until(isEndTurn, 90_000);
    stream.close();

    const results = got.filter(
      (e) => e.type === "agent.tool_result",
    ) as Anthropic.Beta.Sessions.BetaManagedAgentsAgentToolResultEvent[];
    expect(results.map((r) => r.is_error)).toEqual([false, false, false]);
    const [inspect, push, pull] = results.map(textOf) as [string, string, string];
    expect(inspect).toContain("feature\nfeature work");
    expect(inspect).toContain(REPO_URL);
    expect(inspect).toContain("inspected");
    expect(push).toContain("PUSHED");
    expect(pull).toContain("agent change\nfrom-agent");
    expect(got.some((e) => e.type === "session.error")).toBe(false);

    // The upstream got the push, and every request it served carried the token, added by the proxy.
    expect(
      sh(["--git-dir", join(dir, "srv", "org", "repo.git"), "log", "-1", "--format=%s", "feature"]),
    ).toBe("agent change");
    const served = git.requests.filter((r: GitRequest) => r.status === 200);
    expect(served.some((r) => r.path.endsWith("/git-upload-pack"))).toBe(true);
    expect(served.some((r) => r.path.endsWith("/git-receive-pack"))).toBe(true);
    expect(git.requests.filter((r) => r.status === 401)).toEqual([]);

    // The token is nowhere but the credential-proxy.
    for (const r of results) expect(textOf(r)).not.toContain(TOKEN);
    const log: unknown[] = [];
    for await (const e of client.beta.sessions.events.list(session.id)) log.push(e);
    expect(JSON.stringify(log)).not.toContain(TOKEN);
    expect(JSON.stringify(await client.beta.sessions.retrieve(session.id))).not.toContain(TOKEN);
    const listed = [];
    for await (const r of client.beta.sessions.resources.list(session.id)) listed.push(r);
    expect(listed).toEqual(session.resources);
    expect(JSON.stringify(listed)).not.toContain(TOKEN);
    for (const p of [...t.stack.harness, ...t.stack.sandboxManagers]) {
      expect(processMemoryContains(p.pid, [TOKEN])).toEqual([]);
    }
    const logs = [
      ...t.stack.harness,
      ...t.stack.sandboxManagers,
      ...t.stack.credentialProxies,
      ...t.stack.sessionLogs,
    ]
      .flatMap((p) => p.lines())
      .join("\n");
    expect(logs).not.toContain(TOKEN);

    // The egress log shows the git traffic under the resource's id, never the token.
    const egress = (await (
      await fetch(`${t.stack.url}/v1/sessions/${session.id}/egress`, {
        headers: { authorization: `Bearer ${t.apiKey}` },
      })
    ).json()) as { data: Array<{ host: string; method: string; credential_ids: string[] }> };
    const gitRecords = egress.data.filter((r) => r.host === HOST && r.method !== "CONNECT");
    expect(gitRecords.length).toBeGreaterThan(0);
    expect(gitRecords.every((r) => r.credential_ids.includes(resourceId))).toBe(true);
    expect(JSON.stringify(egress)).not.toContain(TOKEN);

    // Token rotation and removal through the resources API.
    const rotated = await client.beta.sessions.resources.update(resourceId, {
      session_id: session.id,
      authorization_token: `ghs_${randomBytes(18).toString("hex")}`,
    });
    expect(rotated).toMatchObject({ id: resourceId, url: REPO_URL });
    expect(Object.keys(rotated)).not.toContain("authorization_token");
    expect(await client.beta.sessions.resources.retrieve(resourceId, { session_id: session.id })).toEqual(
      rotated,
    );
    expect(await client.beta.sessions.resources.delete(resourceId, { session_id: session.id })).toEqual({
      id: resourceId,
      type: "session_resource_deleted",
    });
    expect((await client.beta.sessions.retrieve(session.id)).resources).toEqual([]);
    expect(
      (await apiError(client.beta.sessions.resources.retrieve(resourceId, { session_id: session.id })))
        .status,
    ).toBe(404);
  });

  it("reports a rejected token, a missing repository and a missing branch as repository_* session errors", async () => {
    const client = t.client;
    const cases = [
      { url: REPO_URL, token: "ghs_wrong", checkout: null, type: "repository_authentication_error" },
      {
        url: `https://${HOST}/org/missing.git`,
        token: TOKEN,
        checkout: null,
        type: "repository_not_found_error",
      },
      {
        url: REPO_URL,
        token: TOKEN,
        checkout: { type: "branch" as const, name: "no-such-branch" },
        type: "repository_checkout_error",
      },
    ];
    for (const c of cases) {
      const model = `mock-gitfail-${randomBytes(4).toString("hex")}`;
      t.mock.script(model, {
        steps: [bash("ls /workspace"), { content: [{ type: "text" as const, text: "ok" }] }],
      });
      const agent = await client.beta.agents.create({
        name: "git-fail",
        model,
        tools: [{ type: "agent_toolset_20260401" }],
      });
      const session = await client.beta.sessions.create({
        agent: agent.id,
        environment_id: await environment(),
        resources: [
          { type: "github_repository", url: c.url, authorization_token: c.token, checkout: c.checkout },
        ],
      });
      const stream = await collect(client, session.id);
      await client.beta.sessions.events.send(session.id, { events: [say("look")] });
      const got = await stream.until(isEndTurn, 90_000);
      stream.close();
      const error = got.find(
        (e) => e.type === "session.error",
      ) as Anthropic.Beta.Sessions.BetaManagedAgentsSessionErrorEvent;
      expect(error?.error, c.type).toMatchObject({ type: c.type, repository_url: c.url });
      const result = got.find(
        (e) => e.type === "agent.tool_result",
      ) as Anthropic.Beta.Sessions.BetaManagedAgentsAgentToolResultEvent;
      expect(result.is_error).toBe(true);
      expect(JSON.stringify(got)).not.toContain(TOKEN);
    }
  });

  it("refuses bad resources with a 400 and creates nothing", async () => {
    const client = t.client;
    const agent = await client.beta.agents.create({ name: "git-bad", model: "mock-none" });
    const environmentId = await environment();
    const before = (await client.beta.sessions.list({ limit: 100 })).data.length;
    const bad: Array<[string, Anthropic.Beta.Sessions.SessionCreateParams["resources"]]> = [
      ["plain http", [{ type: "github_repository", url: `http://${HOST}/org/repo.git` }]],
      [
        "token in the url",
        [{ type: "github_repository", url: `https://x-access-token:${TOKEN}@${HOST}/org/repo.git` }],
      ],
      ["not a repository path", [{ type: "github_repository", url: `https://${HOST}/` }]],
      ["mount outside /workspace", [{ type: "github_repository", url: REPO_URL, mount_path: "/etc/repo" }]],
      ["mount climbing out", [{ type: "github_repository", url: REPO_URL, mount_path: "/workspace/../etc" }]],
      [
        "overlapping mounts",
        [
          { type: "github_repository", url: REPO_URL, mount_path: "/workspace/a" },
          { type: "github_repository", url: REPO_URL, mount_path: "/workspace/a/b" },
        ],
      ],
      ["a file (no Files API)", [{ type: "file", file_id: "file_123" }]],
    ];
    for (const [why, resources] of bad) {
      const e = await apiError(
        client.beta.sessions.create({ agent: agent.id, environment_id: environmentId, resources }),
      );
      expect(e.status, why).toBe(400);
      expect(e.error, why).toMatchObject({ type: "error", error: { type: "invalid_request_error" } });
      expect(JSON.stringify(e.error)).not.toContain(TOKEN);
    }
    expect((await client.beta.sessions.list({ limit: 100 })).data.length).toBe(before);

    const session = await client.beta.sessions.create({ agent: agent.id, environment_id: environmentId });
    const add = await apiError(
      client.beta.sessions.resources.add(session.id, { type: "file", file_id: "file_123" }),
    );
    expect(add.status).toBe(400);
    expect((await client.beta.sessions.retrieve(session.id)).resources).toEqual([]);
  });
});
