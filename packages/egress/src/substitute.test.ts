import { describe, expect, it } from "vitest";
import {
  bodyEncoder,
  planFor,
  replaceInBuffer,
  replaceInString,
  type SubstitutedCredential,
  stripHopByHop,
  substituteHeaders,
} from "./substitute.js";

const cred = (over: Partial<SubstitutedCredential> = {}): SubstitutedCredential => ({
  id: "cred_a",
  vaultId: "vlt_1",
  placeholder: "tnd_ph_AAAA",
  secret: "sk-real-a",
  allowedHosts: ["api.a.test"],
  injection: { header: true, body: true },
  ...over,
});

describe("planFor", () => {
  it("selects credentials by host and location", () => {
    const policy = {
      credentials: [
        cred(),
        cred({
          id: "cred_b",
          placeholder: "tnd_ph_BBBB",
          allowedHosts: ["*.b.test"],
          injection: { header: true, body: false },
        }),
        cred({
          id: "cred_u",
          placeholder: "tnd_ph_UUUU",
          allowedHosts: "unrestricted",
          injection: { header: false, body: true },
        }),
        cred({ id: "cred_empty", placeholder: "" }),
      ],
      inject: [{ credentialId: "cred_git", hosts: ["git.test"], headers: { Authorization: "Basic x" } }],
    };
    const a = planFor(policy, "api.a.test", 443);
    expect(a.header.map((r) => r.credentialId)).toEqual(["cred_a"]);
    expect(a.body.map((r) => r.credentialId)).toEqual(["cred_a", "cred_u"]);
    expect(a.inject).toEqual([]);
    const b = planFor(policy, "x.b.test", 443);
    expect(b.header.map((r) => r.credentialId)).toEqual(["cred_b"]);
    expect(b.body.map((r) => r.credentialId)).toEqual(["cred_u"]);
    expect(planFor(policy, "git.test", 443).inject.map((i) => i.credentialId)).toEqual(["cred_git"]);
  });

  it("scopes inject rules to a path prefix that crafted paths cannot climb into", () => {
    const policy = {
      credentials: [],
      inject: [
        { credentialId: "repo_a", hosts: ["git.test"], pathPrefix: "/org/a.git/", headers: { A: "1" } },
        { credentialId: "repo_b", hosts: ["git.test"], pathPrefix: "/org/b.git/", headers: { A: "2" } },
      ],
    };
    const ids = (path?: string) => planFor(policy, "git.test", 443, path).inject.map((i) => i.credentialId);
    expect(ids("/org/a.git/info/refs?service=git-upload-pack")).toEqual(["repo_a"]);
    expect(ids("/org/b.git/git-receive-pack")).toEqual(["repo_b"]);
    expect(ids("/org/a.git")).toEqual(["repo_a"]);
    expect(ids("/org/a.gitx/info/refs")).toEqual([]);
    expect(ids("/org/c.git/info/refs")).toEqual([]);
    expect(ids("/org/a.git/../c.git/info/refs")).toEqual([]);
    expect(ids("/org/a.git/%2e%2e/c.git/info/refs")).toEqual([]);
    expect(ids("/org/c.git/..%2fa.git/info/refs")).toEqual([]);
    expect(ids("/org/c.git/../a.git/info/refs")).toEqual([]);
    expect(ids("/org//a.git/info/refs")).toEqual([]);
    expect(ids("/elsewhere?x=/org/a.git/")).toEqual([]);
    // Deciding whether to terminate a CONNECT: any rule for the host counts.
    expect(ids(undefined)).toEqual(["repo_a", "repo_b"]);
  });
});

describe("replacement", () => {
  const reps = [
    { credentialId: "a", placeholder: "PH_A", secret: "secret-with-PH_B-inside" },
    { credentialId: "b", placeholder: "PH_B", secret: "sb" },
  ];
  it("replaces every occurrence in one pass, never re-substituting inside a secret", () => {
    const used = new Set<string>();
    expect(replaceInString("x PH_A y PH_A", reps, used)).toBe(
      "x secret-with-PH_B-inside y secret-with-PH_B-inside",
    );
    expect([...used]).toEqual(["a"]);
    const used2 = new Set<string>();
    expect(replaceInBuffer(Buffer.from("PH_B/PH_A/PH_B"), reps, used2).toString()).toBe(
      "sb/secret-with-PH_B-inside/sb",
    );
    expect([...used2].sort()).toEqual(["a", "b"]);
  });
  it("returns the input untouched when nothing matches", () => {
    const buf = Buffer.from("nothing here");
    const used = new Set<string>();
    expect(replaceInBuffer(buf, reps, used)).toBe(buf);
    expect(used.size).toBe(0);
  });
  it("keeps JSON and form bodies well-formed", () => {
    expect(bodyEncoder("application/json; charset=utf-8")('a"b\\c')).toBe('a\\"b\\\\c');
    expect(bodyEncoder("application/vnd.api+json")('"')).toBe('\\"');
    expect(bodyEncoder("application/x-www-form-urlencoded")("a&b=c d")).toBe("a%26b%3Dc%20d");
    expect(bodyEncoder("text/plain")("a&b")).toBe("a&b");
  });
});

describe("headers", () => {
  it("drops hop-by-hop headers and those Connection names", () => {
    const raw = [
      "Connection",
      "keep-alive, X-Hop",
      "X-Hop",
      "1",
      "Proxy-Authorization",
      "x",
      "Keep-Alive",
      "5",
      "Accept",
      "*/*",
    ];
    expect(stripHopByHop(raw)).toEqual(["Accept", "*/*"]);
  });
  it("substitutes in values, inside Basic credentials, and sets injected headers", () => {
    const plan = {
      header: [{ credentialId: "a", placeholder: "tnd_ph_AAAA", secret: "sk-real-a" }],
      body: [],
      inject: [{ credentialId: "git", headers: { "X-Injected": "yes" } }],
    };
    const basic = Buffer.from("x-access-token:tnd_ph_AAAA").toString("base64");
    const used = new Set<string>();
    const out = substituteHeaders(
      [
        "Authorization",
        `Basic ${basic}`,
        "X-Key",
        "pre-tnd_ph_AAAA",
        "x-injected",
        "from-client",
        "Accept",
        "*/*",
      ],
      plan,
      used,
    );
    expect(out).toEqual([
      "Authorization",
      `Basic ${Buffer.from("x-access-token:sk-real-a").toString("base64")}`,
      "X-Key",
      "pre-sk-real-a",
      "Accept",
      "*/*",
      "X-Injected",
      "yes",
    ]);
    expect([...used].sort()).toEqual(["a", "git"]);
  });
});
