/**
 * Clones a session's repositories into its new sandbox, from inside it: git runs in the sandbox
 * and goes out through the egress proxy like any tool, and the proxy adds the repository's token
 * on the way. The remote URL left in `.git/config` carries no credential, so pull and push from
 * the sandbox later work the same way. A failure is an AppError whose `error_code` is the
 * spec's `repository_*_error` type, with `repository_url`.
 */
import { AppError, type RepositorySpec } from "@tendon/contracts";
import type { Sandbox } from "@tendon/sandbox";

export type RepositoryErrorType =
  | "repository_authentication_error"
  | "repository_forbidden_error"
  | "repository_not_found_error"
  | "repository_checkout_error"
  | "repository_clone_error";

const quote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

export function cloneCommand(r: RepositorySpec): string {
  const branch = r.checkout?.type === "branch" ? ` --branch ${quote(r.checkout.name)}` : "";
  const clone = `git clone --quiet${branch} -- ${quote(r.url)} ${quote(r.mount_path)}`;
  const checkout =
    r.checkout?.type === "commit"
      ? ` && { git -C ${quote(r.mount_path)} checkout --quiet --detach ${quote(r.checkout.sha)} || { echo "TENDON_CHECKOUT_FAILED"; exit 3; }; }`
      : "";
  return `${clone} 2>&1${checkout}`;
}

/** The spec's error type for git's output of a failed clone. */
export function classifyCloneFailure(output: string): RepositoryErrorType {
  if (/TENDON_CHECKOUT_FAILED|Remote branch .* not found/i.test(output)) return "repository_checkout_error";
  if (/Authentication failed|could not read Username|terminal prompts disabled|\b401\b/i.test(output)) {
    return "repository_authentication_error";
  }
  if (/\b403\b|forbidden|permission denied/i.test(output)) return "repository_forbidden_error";
  if (/\b404\b|not found|does not appear to be a git repository/i.test(output))
    return "repository_not_found_error";
  return "repository_clone_error";
}

export async function cloneRepositories(
  sandbox: Sandbox,
  repos: RepositorySpec[],
  timeoutMs: number,
): Promise<void> {
  for (const r of repos) {
    const result = await sandbox.execute({
      id: `clone-${r.resource_id}`,
      name: "bash",
      input: { command: cloneCommand(r) },
      timeoutMs,
    });
    if (!result.is_error) continue;
    const output = result.content
      .map((b) => (b.type === "text" ? b.text : ""))
      .join("\n")
      .trim();
    const type = classifyCloneFailure(output);
    throw new AppError(
      "precondition_failed",
      `repository ${r.url} could not be ${type === "repository_checkout_error" ? "checked out" : "cloned"}: ${output.slice(-500)}`,
      { retryable: false, details: { error_code: type, repository_url: r.url } },
    );
  }
}
