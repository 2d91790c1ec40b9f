/**
 * TENDON_SANDBOX_PROVIDER picks the provider; the docker and kubernetes ones are made without
 * touching an engine or a cluster (their clients load on the first sandbox only).
 */
import { describe, expect, it } from "vitest";
import { loadConfig } from "./config.js";
import { createProvider } from "./provider.js";

const ctx = { instanceId: "sbm_test", limits: {}, log: () => undefined };

describe("sandbox provider selection", () => {
  it("defaults to process and builds docker and kubernetes providers by name", async () => {
    expect(createProvider(loadConfig({}), ctx).name).toBe("process");
    for (const name of ["docker", "kubernetes"] as const) {
      const p = createProvider(loadConfig({ TENDON_SANDBOX_PROVIDER: name }), ctx);
      expect(p.name).toBe(name);
      await p.close();
    }
  });

  it("refuses an unknown provider and a malformed relay address", () => {
    expect(() => loadConfig({ TENDON_SANDBOX_PROVIDER: "firecracker" })).toThrow();
    expect(() =>
      loadConfig({ TENDON_SANDBOX_PROVIDER: "kubernetes", TENDON_SANDBOX_RELAY_ADDR: "10.0.0.1" }),
    ).toThrow(/host:port/);
    const cfg = loadConfig({
      TENDON_SANDBOX_PROVIDER: "kubernetes",
      TENDON_SANDBOX_RELAY_ADDR: "10.0.0.1:3129",
    });
    expect(cfg.TENDON_SANDBOX_NAMESPACE).toBe("tendon");
    expect(cfg.TENDON_SANDBOX_IMAGE).toBe("tendon/sandbox:dev");
  });
});
