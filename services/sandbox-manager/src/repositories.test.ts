import { describe, expect, it } from "vitest";
import { classifyCloneFailure, cloneCommand } from "./repositories.js";

describe("cloneCommand", () => {
  it("quotes every argument and checks out a commit after cloning", () => {
    const cmd = cloneCommand({
      resource_id: "sesrsc_1",
      url: "https://git.test/o/r.git",
      mount_path: "/workspace/it's",
      checkout: { type: "commit", sha: "abc1234" },
    });
    expect(cmd).toContain(`git clone --quiet -- 'https://git.test/o/r.git' '/workspace/it'\\''s'`);
    expect(cmd).toContain(`checkout --quiet --detach 'abc1234'`);
    expect(
      cloneCommand({
        resource_id: "sesrsc_2",
        url: "https://git.test/o/r",
        mount_path: "/workspace/r",
        checkout: { type: "branch", name: "feature/x" },
      }),
    ).toBe(`git clone --quiet --branch 'feature/x' -- 'https://git.test/o/r' '/workspace/r' 2>&1`);
  });
});

describe("classifyCloneFailure", () => {
  it.each([
    [
      "fatal: could not read Username for 'https://git.test': terminal prompts disabled",
      "repository_authentication_error",
    ],
    ["fatal: Authentication failed for 'https://git.test/o/r.git/'", "repository_authentication_error"],
    [
      "fatal: unable to access 'https://git.test/o/r.git/': The requested URL returned error: 403",
      "repository_forbidden_error",
    ],
    ["fatal: repository 'https://git.test/o/missing.git/' not found", "repository_not_found_error"],
    ["fatal: Remote branch nope not found in upstream origin", "repository_checkout_error"],
    ["error: pathspec 'abc' did not match\nTENDON_CHECKOUT_FAILED", "repository_checkout_error"],
    [
      "fatal: unable to access 'https://git.test/': Could not resolve proxy: 127.0.0.1",
      "repository_clone_error",
    ],
  ])("%s → %s", (output, type) => {
    expect(classifyCloneFailure(output)).toBe(type);
  });
});
