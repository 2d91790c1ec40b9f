import { describe, expect, it } from "vitest";
import { EgressIdentityError, signIdentity, verifyIdentity } from "./identity.js";

const secret = Buffer.from("identity-secret-for-tests-0123456789");
const id = { sessionId: "sesn_1", sandboxId: "sbx_1" };

function errorOf(fn: () => unknown): EgressIdentityError {
  try {
    fn();
  } catch (err) {
    if (err instanceof EgressIdentityError) return err;
    throw err;
  }
  throw new Error("did not throw");
}

describe("identity preamble", () => {
  it("round-trips and has the documented shape", () => {
    const line = signIdentity(secret, id);
    expect(line).toMatch(/^TENDON-EGRESS [A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\r\n$/);
    expect(verifyIdentity(secret, line)).toEqual(id);
    const payload = JSON.parse(Buffer.from(line.slice(14).split(".")[0] ?? "", "base64url").toString("utf8"));
    expect(Object.keys(payload).sort()).toEqual(["exp", "sandbox_id", "session_id"]);
  });

  it("rejects another secret's signature and a tampered payload", () => {
    const forged = signIdentity(Buffer.from("not-the-secret"), id);
    expect(errorOf(() => verifyIdentity(secret, forged)).code).toBe("bad_signature");
    const good = signIdentity(secret, id);
    const [, mac] = good.trim().slice(14).split(".");
    const other = Buffer.from(
      JSON.stringify({ session_id: "sesn_2", sandbox_id: "sbx_1", exp: Date.now() + 60_000 }),
    ).toString("base64url");
    expect(errorOf(() => verifyIdentity(secret, `TENDON-EGRESS ${other}.${mac}\r\n`)).code).toBe(
      "bad_signature",
    );
  });

  it("rejects expired lines but says whose they were", () => {
    const line = signIdentity(secret, id, 1_000, 1_000_000);
    expect(verifyIdentity(secret, line, 1_000_500)).toEqual(id);
    const err = errorOf(() => verifyIdentity(secret, line, 1_001_000));
    expect(err.code).toBe("expired");
    expect(err.identity).toEqual(id);
  });

  it("rejects malformed lines without echoing them", () => {
    for (const line of [
      "",
      "GET / HTTP/1.1\r\n",
      "TENDON-EGRESS \r\n",
      "TENDON-EGRESS abc\r\n",
      `TENDON-EGRESS ${"a".repeat(3000)}.b\r\n`,
    ]) {
      const err = errorOf(() => verifyIdentity(secret, line));
      expect(err.code).toBe("malformed");
      expect(err.message).toBe("egress identity malformed");
    }
  });
});
