import { describe, expect, it } from "vitest";
import { OpsEnv } from "./env.js";

describe("OpsEnv", () => {
  it("unset or empty OPS_PORT means no listener; 0 means a free port", () => {
    expect(OpsEnv.parse({}).OPS_PORT).toBeUndefined();
    expect(OpsEnv.parse({ OPS_PORT: "" }).OPS_PORT).toBeUndefined();
    expect(OpsEnv.parse({ OPS_PORT: "0" }).OPS_PORT).toBe(0);
    expect(OpsEnv.parse({ OPS_PORT: "9464" })).toEqual({ OPS_PORT: 9464, OPS_HOST: "0.0.0.0" });
    expect(() => OpsEnv.parse({ OPS_PORT: "http" })).toThrow();
    expect(() => OpsEnv.parse({ OPS_PORT: "70000" })).toThrow();
  });
});
