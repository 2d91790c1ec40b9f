import { describe, expect, it } from "vitest";
import { createDelayedProvider } from "./delayed.js";
import type { Sandbox, SandboxProvider } from "./provider.js";

function fakeProvider(events: string[]): SandboxProvider {
  return {
    name: "fake",
    async create(spec) {
      events.push(`inner.create ${spec.id}`);
      return { id: spec.id } as Sandbox;
    },
    async close() {
      events.push("inner.close");
    },
  };
}

/** A sleep that finishes only when the test says so. */
function manualSleep(events: string[]) {
  const waiting: { ms: number; resolve: () => void }[] = [];
  return {
    waiting,
    sleep: (ms: number, signal: AbortSignal) =>
      new Promise<void>((resolve, reject) => {
        events.push(`sleep ${ms}`);
        waiting.push({ ms, resolve });
        signal.addEventListener("abort", () => reject(signal.reason), { once: true });
      }),
  };
}

describe("createDelayedProvider", () => {
  it("creates in the inner provider only after the delay has passed", async () => {
    const events: string[] = [];
    const clock = manualSleep(events);
    const p = createDelayedProvider(fakeProvider(events), { startDelayMs: 300, sleep: clock.sleep });
    expect(p.name).toBe("fake");
    const created = p.create({ id: "a" });
    await Promise.resolve();
    expect(events).toEqual(["sleep 300"]);
    clock.waiting[0]!.resolve();
    await expect(created).resolves.toMatchObject({ id: "a" });
    expect(events).toEqual(["sleep 300", "inner.create a"]);
  });

  it("applies jitter in both directions and never a negative delay", async () => {
    const events: string[] = [];
    const clock = manualSleep(events);
    const randoms = [0, 0.999999, 0.5];
    const p = createDelayedProvider(fakeProvider(events), {
      startDelayMs: 4000,
      jitterMs: 1000,
      sleep: clock.sleep,
      random: () => randoms.shift()!,
    });
    void p.create({ id: "a" });
    void p.create({ id: "b" });
    void p.create({ id: "c" });
    await Promise.resolve();
    expect(clock.waiting.map((w) => Math.round(w.ms))).toEqual([3000, 5000, 4000]);
    const q = createDelayedProvider(fakeProvider([]), {
      startDelayMs: 10,
      jitterMs: 100,
      sleep: clock.sleep,
      random: () => 0,
    });
    void q.create({ id: "d" });
    await Promise.resolve();
    expect(clock.waiting.at(-1)!.ms).toBe(0);
    for (const w of clock.waiting) w.resolve();
  });

  it("close() cancels pending delays and closes the inner provider", async () => {
    const events: string[] = [];
    const clock = manualSleep(events);
    const p = createDelayedProvider(fakeProvider(events), { startDelayMs: 300, sleep: clock.sleep });
    const created = p.create({ id: "a" });
    await p.close();
    await expect(created).rejects.toThrow(/closed/);
    expect(events).toEqual(["sleep 300", "inner.close"]);
  });

  it("uses real timers by default", async () => {
    const events: string[] = [];
    const p = createDelayedProvider(fakeProvider(events), { startDelayMs: 1 });
    await expect(p.create({ id: "a" })).resolves.toMatchObject({ id: "a" });
    expect(events).toEqual(["inner.create a"]);
  });
});
