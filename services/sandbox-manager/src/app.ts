/**
 * createSandboxManager(deps): sandboxes are cattle, provisioned only when a tool call needs one.
 *
 * - `provision(session)` creates the session's sandbox on this instance (or reports the live one)
 *   and serves it as the hand named after the session; the harness calls it on the first builtin
 *   tool call (lazy) or before the first model call (eager environments).
 * - A sandbox that died — during a call or between calls — answers its next call with a tool
 *   error saying its files are gone, then the hand retires; the call after that provisions a fresh
 *   one from the environment's recipe.
 * - Idle sandboxes are reaped; their hand retires the same way (the next call re-provisions).
 * - One instance owns a session's sandbox: a claim in the registry (KV create) settles races
 *   between instances, and a per-instance promise map between concurrent requests.
 */
import type { Bus, HandServer } from "@tendon/bus";
import {
  AppError,
  CredentialProxy,
  type HandExecuteRequest,
  type SandboxInfo,
  SandboxManager,
  sandboxHandName,
  type ToolResult,
} from "@tendon/contracts";
import { type Clock, type Logger, serializeError } from "@tendon/runtime";
import { type Sandbox, SandboxDeadError, type SandboxProvider, type ToolName } from "@tendon/sandbox";
import type { z } from "zod";
import { type EgressBridge, type EgressBridgeConfig, openEgressBridge } from "./egress.js";
import { createSandboxManagerMetrics, type SandboxManagerMetrics } from "./metrics.js";
import { sandboxNetworking } from "./networking.js";
import { cloneRepositories } from "./repositories.js";

/** A clone that takes longer than this fails provisioning (the provision request allows 60 s). */
const CLONE_TIMEOUT_MS = 45_000;

type ProvisionRequest = z.output<typeof SandboxManager.provision.request>;

export const SANDBOX_TOOLS: ToolName[] = ["bash", "read", "write", "edit", "glob", "grep"];
/** Tools with no side effects: safe to run again when a first run's outcome is unknown. */
const IDEMPOTENT = new Set(["read", "glob", "grep"]);

export interface SandboxManagerConfig {
  instanceId: string;
  /** The egress bridge to the credential-proxy; without it sandboxes have no network at all. */
  egress?: EgressBridgeConfig | undefined;
  /** Sandboxes unused this long are killed (the next call re-provisions). */
  idleMs: number;
  reapEveryMs: number;
}

export interface SandboxManagerDeps {
  bus: Bus;
  provider: SandboxProvider;
  clock: Clock;
  log: Logger;
  config: SandboxManagerConfig;
  /** Prometheus metrics; a private registry when omitted (tests). */
  metrics?: SandboxManagerMetrics;
}

interface Entry {
  info: SandboxInfo;
  sandbox: Sandbox;
  hand: HandServer;
  egress: EgressBridge | undefined;
}

export interface SandboxManagerService {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Sandboxes on this instance. */
  list(): SandboxInfo[];
}

function deadResult(reason: string): ToolResult {
  return {
    content: [
      {
        type: "text",
        text: `The sandbox running this session's tools died (${reason}); its files and shell state are gone. The next tool call starts a fresh sandbox.`,
      },
    ],
    is_error: true,
  };
}

export function createSandboxManager(deps: SandboxManagerDeps): SandboxManagerService {
  const { bus, provider, clock, log, config } = deps;
  const local = new Map<string, Entry>();
  const pending = new Map<string, Promise<SandboxInfo>>();
  const subs: Array<{ unsubscribe(): void }> = [];
  let reaper: NodeJS.Timeout | undefined;
  const metrics = deps.metrics ?? createSandboxManagerMetrics();
  metrics.watchSandboxes(() => {
    const n = { starting: pending.size, ready: 0, dead: 0 };
    for (const e of local.values()) n[e.info.state]++;
    return n;
  });

  const retire = async (sessionId: string, why: string) => {
    const e = local.get(sessionId);
    if (!e) return;
    local.delete(sessionId);
    log.info("sandbox retired", { session_id: sessionId, sandbox_id: e.info.sandbox_id, why });
    await e.hand.stop().catch((err: unknown) => log.warn("hand stop failed", { err: serializeError(err) }));
    await e.sandbox
      .kill()
      .catch((err: unknown) => log.warn("sandbox kill failed", { err: serializeError(err) }));
    await closeEgress(e.info.sandbox_id, e.egress);
  };

  const handler =
    (sessionId: string) =>
    async (req: HandExecuteRequest, signal: AbortSignal): Promise<ToolResult> => {
      const e = local.get(sessionId);
      if (!e) return deadResult("it was reaped");
      e.info.last_used_at = clock.now().toISOString();
      try {
        return await e.sandbox.execute(
          { id: req.tool_use_id, name: req.tool as ToolName, input: req.input, timeoutMs: req.deadline_ms },
          { signal },
        );
      } catch (err) {
        if (!(err instanceof SandboxDeadError)) throw err;
        e.info.state = "dead";
        // Retire after answering, so this reply still goes out through the hand.
        setImmediate(() => void retire(sessionId, "sandbox died"));
        return deadResult(err.message);
      }
    };

  /** Registers the sandbox with the credential-proxy and opens its egress socket. */ const openEgress =
    async (req: ProvisionRequest, sandboxId: string) => {
      if (!config.egress) return undefined;
      const sessionId = req.session_id;
      const reg = await bus.request(CredentialProxy.egressRegister, {
        sandbox_id: sandboxId,
        session_id: sessionId,
        vault_ids: req.vault_ids,
        networking: sandboxNetworking(req.environment, req.mcp_server_urls),
      });
      try {
        const bridge = await openEgressBridge(config.egress, { sessionId, sandboxId }, reg.ca_cert_pem);
        return { bridge, env: reg.env, repositories: reg.repositories };
      } catch (err) {
        await closeEgress(sandboxId, undefined);
        throw err;
      }
    };
  const closeEgress = async (sandboxId: string, bridge: EgressBridge | undefined) => {
    if (!config.egress) return;
    await bridge
      ?.close()
      .catch((err: unknown) => log.warn("egress bridge close failed", { err: serializeError(err) }));
    await bus
      .request(CredentialProxy.egressUnregister, { sandbox_id: sandboxId })
      .catch((err: unknown) => log.warn("egress unregister failed", { err: serializeError(err) }));
  };
  const create = async (req: ProvisionRequest): Promise<SandboxInfo> => {
    const sessionId = req.session_id;
    const started = performance.now();
    const sandboxId = `sbx-${sessionId}-${Date.now().toString(36)}`;
    const egress = await openEgress(req, sandboxId);
    let sandbox: Sandbox;
    try {
      sandbox = await provider.create({
        id: sandboxId,
        ...(egress ? { env: egress.env, egress: egress.bridge.spec } : {}),
      });
    } catch (err) {
      await closeEgress(sandboxId, egress?.bridge);
      throw err;
    }
    const now = clock.now().toISOString();
    const info: SandboxInfo = {
      session_id: sessionId,
      sandbox_id: sandbox.id,
      hand: sandboxHandName(sessionId),
      provider: provider.name,
      instance: config.instanceId,
      state: "ready",
      created_at: now,
      last_used_at: now,
      start_ms: Math.round((performance.now() - started) * 10) / 10,
    };
    void sandbox.exited.then(() => {
      if (info.state !== "dead") {
        info.state = "dead";
        log.warn("sandbox exited", { session_id: sessionId, sandbox_id: sandbox.id });
      }
    });
    let hand: HandServer;
    try {
      // Repositories are in place before the first tool call can see the sandbox.
      if (egress && egress.repositories.length > 0) {
        await cloneRepositories(sandbox, egress.repositories, CLONE_TIMEOUT_MS);
      }
      hand = await bus.serveHand({
        name: info.hand,
        kind: "sandbox",
        instance: config.instanceId,
        tools: SANDBOX_TOOLS,
        sessionId,
        provider: provider.name,
        sandboxId: sandbox.id,
        idempotentTools: IDEMPOTENT,
        handler: handler(sessionId),
        onError: (err) => log.warn("hand error", { session_id: sessionId, err: serializeError(err) }),
      });
    } catch (err) {
      await sandbox.kill();
      await closeEgress(sandboxId, egress?.bridge);
      throw err;
    }
    local.set(sessionId, { info, sandbox, hand, egress: egress?.bridge });
    log.info("sandbox provisioned", {
      session_id: sessionId,
      sandbox_id: sandbox.id,
      start_ms: info.start_ms,
    });
    return info;
  };
  const provision = async (req: ProvisionRequest): Promise<SandboxInfo> => {
    const sessionId = req.session_id;
    const mine = local.get(sessionId);
    if (mine && mine.info.state !== "dead") return mine.info;
    const inFlight = pending.get(sessionId);
    if (inFlight) return inFlight;
    // In `pending` before the first await: a second request for the session waits for this one
    // instead of creating a second sandbox.
    const p = provisionNew(req).finally(() => pending.delete(sessionId));
    pending.set(sessionId, p);
    return p;
  };
  const provisionNew = async (req: ProvisionRequest): Promise<SandboxInfo> => {
    const sessionId = req.session_id;
    // Another instance may already serve it (an eager start racing the first call); registry
    // entries outlive dead instances by up to their TTL, so it must also answer.
    const registry = await bus.hands();
    const live = await registry.get(sandboxHandName(sessionId));
    if (live && live.instance !== config.instanceId && live.sandbox_id && (await bus.handAlive(live.name))) {
      return {
        session_id: sessionId,
        sandbox_id: live.sandbox_id,
        hand: live.name,
        provider: live.provider ?? "unknown",
        instance: live.instance,
        state: "ready",
        created_at: live.started_at,
        last_used_at: live.last_seen,
        start_ms: 0,
      };
    }
    const done = metrics.provisionDuration.startTimer();
    try {
      const info = await create(req);
      done({ outcome: "ok" });
      return info;
    } catch (err) {
      done({ outcome: "error" });
      throw err;
    }
  };

  const reap = async () => {
    const cutoff = clock.now().getTime() - config.idleMs;
    for (const [sessionId, e] of [...local]) {
      if (Date.parse(e.info.last_used_at) < cutoff && e.hand.inFlight() === 0)
        await retire(sessionId, "idle");
    }
  };

  return {
    list: () => [...local.values()].map((e) => ({ ...e.info })),
    async start() {
      await bus.hands();
      subs.push(
        bus.serve(SandboxManager.provision, async (req) => {
          if (req.environment?.type === "self_hosted") {
            throw new AppError(
              "invalid_request",
              "self-hosted sessions run their tools on the customer's worker, not in a sandbox",
            );
          }
          return provision(req);
        }),
        bus.serve(SandboxManager.kill, async ({ session_id }) => {
          const e = local.get(session_id);
          if (!e) return { killed: false };
          // Kill the sandbox only: the hand stays to tell the next call what happened.
          await e.sandbox.kill();
          e.info.state = "dead";
          return { killed: true };
        }),
        bus.serve(SandboxManager.list, async () => ({
          data: [...local.values()].map((e) => ({ ...e.info })),
        })),
      );
      await bus.nc.flush();
      reaper = setInterval(() => {
        reap().catch((err: unknown) => log.warn("reap failed", { err: serializeError(err) }));
      }, config.reapEveryMs);
      reaper.unref();
      log.info("sandbox-manager started", { provider: provider.name, instance: config.instanceId });
    },
    async stop() {
      if (reaper) clearInterval(reaper);
      for (const s of subs) s.unsubscribe();
      await Promise.allSettled([...local.keys()].map((id) => retire(id, "shutdown")));
      await provider.close();
    },
  };
}
