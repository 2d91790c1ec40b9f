import { describe, expect, it } from "vitest";
import { loadConfig } from "./config.js";

describe("loadConfig", () => {
  it("defaults to a random port on 127.0.0.1 with no delays and no key", () => {
    expect(loadConfig({})).toEqual({ MOCK_MODEL_PORT: 0, MOCK_MODEL_HOST: "127.0.0.1" });
    expect(
      loadConfig({ MOCK_MODEL_API_KEY: "", MOCK_MODEL_FIRST_TOKEN_MS: "" }).MOCK_MODEL_API_KEY,
    ).toBeUndefined();
  });

  it("parses numbers and rejects bad ones", () => {
    const cfg = loadConfig({
      MOCK_MODEL_PORT: "4010",
      MOCK_MODEL_HOST: "0.0.0.0",
      MOCK_MODEL_FIRST_TOKEN_MS: "200",
      MOCK_MODEL_PER_TOKEN_MS: "5",
      MOCK_MODEL_API_KEY: "k",
    });
    expect(cfg).toEqual({
      MOCK_MODEL_PORT: 4010,
      MOCK_MODEL_HOST: "0.0.0.0",
      MOCK_MODEL_FIRST_TOKEN_MS: 200,
      MOCK_MODEL_PER_TOKEN_MS: 5,
      MOCK_MODEL_API_KEY: "k",
    });
    expect(() => loadConfig({ MOCK_MODEL_PORT: "70000" })).toThrow();
    expect(() => loadConfig({ MOCK_MODEL_FIRST_TOKEN_MS: "soon" })).toThrow();
  });
});
