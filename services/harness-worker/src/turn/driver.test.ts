import { describe, expect, it } from "vitest";
import { enabledBuiltins } from "./driver.js";

describe("enabledBuiltins", () => {
  it("applies per-tool permission policies and enablement over the toolset default", () => {
    const p = (type: "always_allow" | "always_ask") => ({ type });
    const m = enabledBuiltins([
      {
        type: "agent_toolset_20260401",
        default_config: { enabled: true, permission_policy: p("always_allow") },
        configs: [
          { name: "bash", type: "bash", enabled: true, permission_policy: p("always_ask") },
          { name: "read", type: "read", enabled: true, permission_policy: p("always_allow") },
          { name: "write", type: "write", enabled: false, permission_policy: p("always_allow") },
        ],
      },
    ]);
    expect(m.get("bash")).toBe("always_ask");
    expect(m.get("read")).toBe("always_allow");
    expect(m.has("write")).toBe(false);
  });
});
