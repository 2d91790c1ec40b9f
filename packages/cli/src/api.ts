/**
 * How the API commands reach the gateway: the official SDK, configured from --url/--api-key,
 * then TENDON_URL/TENDON_API_KEY, then the credentials a running `tendon dev` left for this URL
 * (~/.tendon/dev.json, 0600, removed when dev stops), then the default URL.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import Anthropic from "@anthropic-ai/sdk";
import { z } from "zod";
import { type CliEnv, DEFAULT_API_URL } from "./config.js";
import { UsageError } from "./errors.js";

export interface ApiTarget {
  url: string;
  apiKey: string;
}

const DevCredentials = z.object({ url: z.string(), key: z.string(), pid: z.number().int() });

const devFile = () => join(homedir(), ".tendon", "dev.json");

/** `tendon dev` records its URL and key so the CLI in another terminal needs no exports. */
export function writeDevCredentials(url: string, key: string): () => void {
  const dir = join(homedir(), ".tendon");
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = devFile();
  writeFileSync(file, `${JSON.stringify({ url, key, pid: process.pid })}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return () => {
    // Only remove our own record: a second `tendon dev` may have replaced it.
    if (readDevCredentials()?.pid === process.pid) rmSync(file, { force: true });
  };
}

function readDevCredentials(): z.infer<typeof DevCredentials> | undefined {
  const file = devFile();
  if (!existsSync(file)) return undefined;
  try {
    const parsed = DevCredentials.safeParse(JSON.parse(readFileSync(file, "utf8")));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined; // unreadable or half-written: as if there were none
  }
}

/** The URL and key for this invocation; a usage error (exit 2) when no key can be found. */
export function resolveTarget(
  env: CliEnv,
  flags: { url?: string | undefined; "api-key"?: string | undefined },
): ApiTarget {
  const url = (flags.url ?? env.apiUrl ?? DEFAULT_API_URL).replace(/\/+$/, "");
  let apiKey = flags["api-key"] ?? env.apiKey;
  if (!apiKey) {
    const dev = readDevCredentials();
    if (dev && dev.url.replace(/\/+$/, "") === url) apiKey = dev.key;
  }
  if (!apiKey)
    throw new UsageError(
      `no API key for ${url}: set TENDON_API_KEY or pass --api-key ` +
        `("tendon dev" prints one; "tendon keys create" mints one)`,
    );
  let protocol = "";
  try {
    protocol = new URL(url).protocol;
  } catch {
    // reported below
  }
  if (protocol !== "http:" && protocol !== "https:")
    throw new UsageError(`"${url}" is not an http(s) URL (TENDON_URL / --url, e.g. ${DEFAULT_API_URL})`);
  return { url, apiKey };
}

export function createClient(t: ApiTarget): Anthropic {
  return new Anthropic({ baseURL: t.url, apiKey: t.apiKey, maxRetries: 1, timeout: 60_000 });
}
