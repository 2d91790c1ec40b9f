/**
 * Where the API commands find their gateway and key, and the sentences their failures become.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Anthropic from "@anthropic-ai/sdk";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { resolveTarget, writeDevCredentials } from "./api.js";
import { loadCliEnv } from "./config.js";
import { CliError, EXIT } from "./errors.js";
import { explain, isRetryable } from "./explain.js";

describe("resolveTarget", () => {
  let home: string;
  let oldHome: string | undefined;
  beforeEach(() => {
    home = mkdtempSync(join(tmpdir(), "tendon-cli-unit-"));
    oldHome = process.env.HOME;
    process.env.HOME = home; // os.homedir() follows HOME
  });
  afterEach(() => {
    process.env.HOME = oldHome;
    rmSync(home, { recursive: true, force: true });
  });

  it("prefers flags, then TENDON_URL/TENDON_API_KEY, then a running tendon dev's key for that URL", () => {
    const env = loadCliEnv({ TENDON_URL: "http://gw:9000/", TENDON_API_KEY: "sk-env" });
    expect(resolveTarget(env, {})).toEqual({ url: "http://gw:9000", apiKey: "sk-env" });
    expect(resolveTarget(env, { url: "http://other:1", "api-key": "sk-flag" })).toEqual({
      url: "http://other:1",
      apiKey: "sk-flag",
    });

    const forget = writeDevCredentials("http://127.0.0.1:8080", "sk-dev");
    expect(resolveTarget(loadCliEnv({}), {})).toEqual({ url: "http://127.0.0.1:8080", apiKey: "sk-dev" });
    // Another URL does not get dev's key.
    expect(() => resolveTarget(loadCliEnv({ TENDON_URL: "http://127.0.0.1:9999" }), {})).toThrow(
      /no API key for http:\/\/127\.0\.0\.1:9999/,
    );
    forget();
    const noKey = (() => {
      try {
        resolveTarget(loadCliEnv({}), {});
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(noKey).toBeInstanceOf(CliError);
    expect((noKey as CliError).exitCode).toBe(EXIT.usage);
  });

  it("refuses a URL that is not one", () => {
    expect(() => resolveTarget(loadCliEnv({ TENDON_API_KEY: "k" }), { url: "gateway:8080x" })).toThrow(
      /is not an http\(s\) URL/,
    );
  });
});

describe("explain", () => {
  const url = "http://127.0.0.1:8080";
  const apiError = (status: number, message: string) =>
    Anthropic.APIError.generate(
      status,
      { type: "error", error: { type: "x", message } },
      undefined,
      new Headers(),
    );

  it("turns API and network failures into one sentence", () => {
    expect(explain(apiError(401, "invalid API key"), url).message).toMatch(
      /^the gateway at http:\/\/127\.0\.0\.1:8080 refused the API key \(invalid API key\)\. Check TENDON_API_KEY/,
    );
    expect(explain(apiError(404, "session sesn_x not found"), url).message).toBe(
      "not found: session sesn_x not found",
    );
    expect(explain(apiError(400, "name: required"), url).message).toBe(
      "the gateway refused the request (400): name: required",
    );
    const refused = Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
    const conn = new Anthropic.APIConnectionError({
      cause: new TypeError("fetch failed", { cause: refused }),
    });
    expect(explain(conn, url).message).toMatch(
      /^cannot reach the Tendon gateway at http:\/\/127\.0\.0\.1:8080 \(connection refused\)\. Is it running\?/,
    );
    for (const e of [apiError(401, "x"), conn]) expect(explain(e, url).exitCode).toBe(EXIT.failed);
  });

  it("retries what a reconnect can fix, and nothing else", () => {
    expect(isRetryable(apiError(503, "down"))).toBe(true);
    expect(isRetryable(apiError(429, "slow down"))).toBe(true);
    expect(isRetryable(new TypeError("terminated"))).toBe(true);
    expect(isRetryable(apiError(401, "no"))).toBe(false);
    expect(isRetryable(apiError(404, "gone"))).toBe(false);
    expect(isRetryable(new TypeError("x is not a function"))).toBe(false);
  });
});
