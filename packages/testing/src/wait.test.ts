import { describe, expect, it } from "vitest";
import { WaitTimeoutError, waitFor } from "./wait.js";

describe("waitFor", () => {
  it("resolves with the first value that is not undefined/null/false", async () => {
    let calls = 0;
    const value = await waitFor(() => {
      calls++;
      return calls >= 3 ? { calls } : undefined;
    });
    expect(value).toEqual({ calls: 3 });
  });

  it("treats a throw as not yet and accepts async conditions", async () => {
    let calls = 0;
    const value = await waitFor(async () => {
      calls++;
      if (calls < 3) throw new Error("not yet");
      return "done";
    });
    expect(value).toBe("done");
  });

  it("keeps 0 and empty string as results", async () => {
    expect(await waitFor(() => 0)).toBe(0);
    expect(await waitFor(() => "")).toBe("");
  });

  it("rejects on timeout with the message and the last error", async () => {
    const err = await waitFor(
      () => {
        throw new Error("connection refused");
      },
      { timeoutMs: 100, intervalMs: 10, message: "the server to answer" },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WaitTimeoutError);
    const message = (err as Error).message;
    expect(message).toMatch(/timed out after \d+ ms/);
    expect(message).toContain("the server to answer");
    expect(message).toContain("connection refused");
    expect((err as Error).cause).toBeInstanceOf(Error);
  });

  it("rejects by the deadline even when the condition hangs", async () => {
    const started = Date.now();
    const err = await waitFor(() => new Promise<never>(() => {}), { timeoutMs: 100, message: "hang" }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WaitTimeoutError);
    expect((err as Error).message).toContain("still pending");
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});
