/**
 * The web console, end to end in headless Chromium (Debian's `chromium`, driven by
 * `playwright-core`): a whole stack with a scripted mock model, a custom tool served by a hand the
 * test holds, and a builtin tool that asks for confirmation. The console is opened with a pasted
 * key; it lists the sessions with their filters, follows a running session's timeline live, lets
 * the user allow a tool call, sends a message and interrupts the long turn that follows.
 * Screenshots of each stage are saved in `test-results/console/`.
 *
 * Skipped, with the reason, where Chromium is not installed (`scripts/setup.sh` installs it).
 */
import { existsSync, mkdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type Anthropic from "@anthropic-ai/sdk";
import type { HandServer } from "@tendon/bus";
import { customToolHandName } from "@tendon/contracts";
import { waitFor } from "@tendon/testing";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useTestStack } from "../support/stack.js";

const CHROMIUM = "/usr/bin/chromium";
const hasChromium = existsSync(CHROMIUM);
const SHOTS = fileURLToPath(new URL("../../test-results/console/", import.meta.url));
const title = hasChromium
  ? "web console in headless Chromium"
  : `web console in headless Chromium — skipped: ${CHROMIUM} is not installed (scripts/setup.sh installs the chromium package)`;

if (!hasChromium) console.warn(`[console e2e] ${title}`);

const say = (text: string) => ({ type: "user.message" as const, content: [{ type: "text" as const, text }] });

describe.skipIf(!hasChromium)(title, () => {
  const fx = useTestStack();
  const model = `mock-console-${Math.random().toString(36).slice(2, 8)}`;
  let browser: Browser;
  let page: Page;
  let hand: HandServer;
  let handCalls = 0;
  let release!: () => void;
  const released = new Promise<void>((r) => {
    release = r;
  });
  const pageErrors: string[] = [];
  let demo: Anthropic.Beta.Sessions.BetaManagedAgentsSession;
  let other: Anthropic.Beta.Sessions.BetaManagedAgentsSession;

  const shot = (name: string) => page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
  const row = (id: string) => page.locator(`tr.session-row[data-id="${id}"]`);

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    const bus = await fx.t.bus();
    hand = await bus.serveHand({
      name: customToolHandName("deploy"),
      kind: "custom",
      instance: "console-e2e-hand",
      tools: ["deploy"],
      indexTools: true,
      handler: async () => {
        handCalls++;
        await released;
        return { content: [{ type: "text", text: "deployed to staging" }], is_error: false };
      },
    });
    fx.t.mock.script(model, {
      steps: [
        {
          content: [
            { type: "text", text: "Deploying to staging first." },
            { type: "tool_use", name: "deploy", input: { target: "staging" } },
          ],
        },
        { content: [{ type: "tool_use", name: "bash", input: { command: "echo console-e2e && false" } }] },
        {
          content: [
            { type: "text", text: "All done: staging is deployed, and the check failed as expected." },
          ],
        },
        // The next turn's first request hangs until the harness gives it up (on the interrupt).
        { content: [{ type: "text", text: "too late" }], failures: [{ hang: true }] },
      ],
    });
    const agent = await fx.client.beta.agents.create({
      name: "console-demo-agent",
      model,
      tools: [
        { type: "agent_toolset_20260401", default_config: { permission_policy: { type: "always_ask" } } },
        {
          type: "custom",
          name: "deploy",
          description: "Deploy to a target",
          input_schema: { type: "object", properties: { target: { type: "string" } } },
        },
      ],
    });
    const otherAgent = await fx.client.beta.agents.create({ name: "reporting-agent", model });
    demo = await fx.client.beta.sessions.create({
      agent: agent.id,
      environment_id: fx.environmentId,
      title: "console demo",
      metadata: { team: "platform" },
    });
    other = await fx.client.beta.sessions.create({
      agent: otherAgent.id,
      environment_id: fx.environmentId,
      title: "nightly report",
      metadata: { team: "data" },
    });
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.setDefaultTimeout(30_000);
    page.on("pageerror", (e) => pageErrors.push(e.message));
    // Console errors include content-security-policy violations (an inline style, a stray fetch).
    page.on("console", (m) => {
      if (m.type() === "error") pageErrors.push(m.text());
    });
  });

  afterAll(async () => {
    release?.();
    await browser?.close();
    await hand?.stop();
  });

  it("is served without a key, while the API it calls still needs one", async () => {
    const base = fx.t.stack.url;
    const html = await fetch(`${base}/console`);
    expect(html.status).toBe(200);
    expect(html.headers.get("content-type")).toMatch(/^text\/html/);
    expect(html.headers.get("content-security-policy")).toContain("connect-src 'self'");
    expect(await html.text()).toContain("/console/dist/main.js");
    const js = await fetch(`${base}/console/dist/main.js`);
    expect(js.status).toBe(200);
    expect(js.headers.get("content-type")).toMatch(/^text\/javascript/);
    expect((await fetch(`${base}/v1/sessions`)).status).toBe(401);
    expect((await fetch(`${base}/console/nothing-here.js`)).status).toBe(404);
  });

  it("asks for a key, then lists sessions with status, agent and filters", { timeout: 120_000 }, async () => {
    await page.goto(`${fx.t.stack.url}/console`);
    await page.locator("#api-key").fill("sk-not-a-key");
    await page.locator("#save-key").click();
    await page.locator("#key-error").filter({ hasText: "refused (401)" }).waitFor();
    pageErrors.length = 0; // the browser logs that refused request; nothing after it may fail
    await page.locator("#api-key").fill(fx.t.apiKey);
    await page.locator("#save-key").click();
    await row(demo.id).waitFor();
    await row(other.id).waitFor();
    expect(await row(demo.id).locator(".status").textContent()).toBe("idle");
    expect(await row(demo.id).textContent()).toContain("console-demo-agent");
    expect(await row(demo.id).textContent()).toContain("team=platform");

    // A turn starts from another client; the list picks the status up by itself.
    await fx.client.beta.sessions.events.send(demo.id, { events: [say("deploy, then check")] });
    await waitFor(() => handCalls === 1, { timeoutMs: 30_000 });
    await page.locator(`tr.session-row[data-id="${demo.id}"][data-status="running"]`).waitFor();
    await shot("01-sessions");

    await page.locator("#filter-text").fill("platform");
    await row(other.id).waitFor({ state: "detached" });
    expect(await row(demo.id).isVisible()).toBe(true);
    await page.locator("#filter-text").fill("");
    await page.locator("#filter-status").selectOption("running");
    await row(other.id).waitFor({ state: "detached" });
    expect(await row(demo.id).isVisible()).toBe(true);
    await page.locator("#filter-status").selectOption("");
    await page.locator("#filter-agent").selectOption({ label: `reporting-agent (${other.agent.id})` });
    await row(demo.id).waitFor({ state: "detached" });
    expect(await row(other.id).isVisible()).toBe(true);
    await page.locator("#filter-agent").selectOption("");
    await row(demo.id).waitFor();
  });

  it("follows a running session live: spans, who served each call, a confirmation, errors", {
    timeout: 120_000,
  }, async () => {
    await row(demo.id).locator("a.session-link").click();
    await page.locator('#session-status [data-status="running"]').waitFor();
    await page.locator('#live[data-state="live"]').waitFor();
    // The custom tool is running on the test's hand: an open span, served by that hand.
    const deploy = page.locator('.span-row[data-kind="tool"]').filter({ hasText: "deploy" });
    await deploy.and(page.locator('[data-state="open"]')).waitFor();
    expect(await deploy.locator(".served-by").textContent()).toBe("hand tool.deploy");
    await page.locator('.span-row[data-kind="model"][data-state="ok"]').first().waitFor();
    await shot("02-session-running");

    // Released, the call completes and the next events arrive on the open page.
    release();
    await deploy.and(page.locator('[data-state="ok"]')).waitFor();
    await page.locator('li.event[data-type="user.custom_tool_result"]').waitFor();
    // bash asks first (always_ask): the page offers allow/deny, and the span waits.
    const confirm = page.locator("#confirmations .confirm");
    await confirm.waitFor();
    expect(await confirm.textContent()).toContain("echo console-e2e");
    await page.locator('.span-row[data-kind="tool"][data-state="waiting"]').waitFor();
    await page.locator('#session-status [data-status="idle"]').waitFor();
    await shot("03-confirmation");

    await confirm.locator("button.allow").click();
    await page.locator('li.event[data-type="user.tool_confirmation"]').waitFor();
    await confirm.waitFor({ state: "detached" });
    // The command fails (exit 1): its result and its span are highlighted as errors.
    const failed = page.locator('li.event.is-error[data-type="agent.tool_result"]');
    await failed.waitFor({ timeout: 60_000 });
    const bash = page.locator('.span-row[data-kind="tool"]').filter({ hasText: "bash" });
    expect(await bash.getAttribute("data-state")).toBe("error");
    expect(await bash.locator(".served-by").textContent()).toBe(`sandbox hand sandbox.${demo.id}`);
    await page.locator('li.event[data-type="agent.message"]').filter({ hasText: "All done" }).waitFor();
    await page.locator('#session-status [data-status="idle"]').waitFor();
    expect(await page.locator('.span-row[data-kind="model"][data-state="ok"]').count()).toBe(3);
    // Spans sit on one time axis: the later call starts further right than the first request.
    const first = await page.locator('.span-row[data-kind="model"] .bar').first().boundingBox();
    const later = await bash.locator(".bar").boundingBox();
    expect(later!.x).toBeGreaterThan(first!.x + 10);

    // Tool input and output expand in the event log.
    await page.locator('li.event[data-type="agent.tool_use"] summary').click();
    expect(await page.locator('li.event[data-type="agent.tool_use"] .tool-input').textContent()).toContain(
      "echo console-e2e && false",
    );
    expect(await page.locator('li.event[data-type="agent.tool_use"] .served-by').textContent()).toContain(
      `sandbox.${demo.id}`,
    );
    await failed.locator("summary").click();
    expect(await failed.locator(".tool-output").textContent()).toContain("console-e2e");
    await shot("04-turn-done");
  });

  it("sends a message and interrupts the long turn it starts", { timeout: 120_000 }, async () => {
    await page.locator("#message").fill("one more thing");
    await page.locator("#send").click();
    await page.locator('#session-status [data-status="running"]').waitFor();
    await page.locator('.span-row[data-kind="model"][data-state="open"]').waitFor();
    await waitFor(() => fx.t.mock.requests(model).length === 4, { timeoutMs: 30_000 });
    // The message went through the public API like any client's.
    const sent = await fx.client.beta.sessions.events.list(demo.id, { types: ["user.message"] } as never);
    expect(
      sent.data.map((e) => (e as Anthropic.Beta.Sessions.BetaManagedAgentsUserMessageEvent).content[0]),
    ).toContainEqual({ type: "text", text: "one more thing" });
    await shot("05-long-turn");

    await page.locator("#interrupt").click();
    await page.locator('li.event[data-type="user.interrupt"]').waitFor();
    await page.locator('#session-status [data-status="idle"]').waitFor();
    await page.locator('.span-row[data-kind="model"][data-state="open"]').waitFor({ state: "detached" });
    expect(await page.locator(".marker-interrupt").count()).toBe(1);
    expect((await fx.client.beta.sessions.retrieve(demo.id)).status).toBe("idle");
    await shot("06-interrupted");
    expect(pageErrors).toEqual([]);
  });
});
