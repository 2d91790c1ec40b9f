/**
 * Readiness checks for `/readyz`: each one throws (or rejects) when its dependency is not usable
 * right now. They take the narrowest shape they need, so this package imports neither the bus nor
 * the database package.
 */

export interface ReadinessCheck {
  /** Shown in the /readyz body: `nats`, `database`, ... */
  readonly name: string;
  check(): Promise<void>;
}

/** The part of a NATS connection the check needs (`NatsConnection` has it). */
export interface NatsLike {
  isClosed(): boolean;
  /** A PING/PONG round trip; rejects while disconnected. */
  rtt(): Promise<number>;
}

/** Ready while the connection is open and the server answers a round trip. */
export function natsCheck(nc: NatsLike): ReadinessCheck {
  return {
    name: "nats",
    async check() {
      if (nc.isClosed()) throw new Error("connection closed");
      await nc.rtt();
    },
  };
}

/** Ready while `ping` (e.g. `select 1`) succeeds. */
export function databaseCheck(ping: () => Promise<unknown>): ReadinessCheck {
  return {
    name: "database",
    async check() {
      await ping();
    },
  };
}

export interface ReadinessResult {
  ok: boolean;
  checks: Record<string, "ok" | string>;
}

/** Runs every check at once, each bounded by `timeoutMs`; ok only if all pass. */
export async function runChecks(
  checks: readonly ReadinessCheck[],
  timeoutMs: number,
): Promise<ReadinessResult> {
  const results = await Promise.all(
    checks.map(async (c): Promise<[string, string]> => {
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          c.check(),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
          }),
        ]);
        return [c.name, "ok"];
      } catch (e) {
        return [c.name, e instanceof Error ? e.message.slice(0, 200) : "failed"];
      } finally {
        if (timer) clearTimeout(timer);
      }
    }),
  );
  return { ok: results.every(([, r]) => r === "ok"), checks: Object.fromEntries(results) };
}
