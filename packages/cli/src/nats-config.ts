/**
 * Renders a nats-server configuration with one user per Tendon service and for hands, each allowed
 * only the subjects its role needs (the bus is the security boundary between services: only the
 * session-log reaches Postgres, only the harness calls the model, and a hand machine can serve its
 * tools and nothing else).
 *
 * Passwords are referenced as environment variables of the nats-server process
 * (`$TENDON_NATS_<USER>_PASSWORD`), never written into the file.
 */
import { inboxPrefixOf, subjects as makeSubjects } from "@tendon/contracts";

export type NatsRole =
  | "gateway"
  | "session_log"
  | "harness"
  | "sandbox_manager"
  | "credential_proxy"
  | "hand"
  | "admin";

export interface Permissions {
  publish: string[];
  subscribe: string[];
  allowResponses?: boolean;
}

export function rolePermissions(prefix: string): Record<NatsRole, Permissions> {
  const s = makeSubjects(prefix);
  const P = prefix;
  const wake = s.wakeStream();
  const hands = s.handsBucket();
  const exec = s.executionsBucket();
  // nats.js checks the JetStream API with an account-info request before managing streams
  // (jetstreamManager(), and Kvm when it creates a bucket): read-only, no message content.
  const jsInfo = "$JS.API.INFO";
  const kvApi = (bucket: string) => [
    `$JS.API.STREAM.INFO.KV_${bucket}`,
    `$JS.API.STREAM.MSG.GET.KV_${bucket}`,
    `$JS.API.DIRECT.GET.KV_${bucket}.>`,
  ];
  const kvAdmin = (bucket: string) => [
    ...kvApi(bucket),
    `$JS.API.STREAM.CREATE.KV_${bucket}`,
    `$JS.API.STREAM.UPDATE.KV_${bucket}`,
  ];
  // Each role reads only its own replies (services set the matching inbox prefix).
  const inbox = (role: NatsRole) => `${inboxPrefixOf(role)}.>`;
  const cp = (...ops: string[]) => ops.map((op) => `${P}.rpc.credential-proxy.${op}`);
  const sl = (...ops: string[]) => ops.map((op) => `${P}.rpc.session-log.${op}`);
  return {
    gateway: {
      // The API's session-log calls, but not keys.create (minting API keys is the operator's, as
      // the admin user) nor harness.* / workers.* (only a harness appends agent events). Vaults,
      // credentials and the egress log are served by the credential-proxy.
      publish: [
        ...sl("auth.verify", "agents.>", "environments.>", "sessions.>", "resources.>", "events.>", "work.>"),
        ...cp("vaults.>", "credentials.>", "egress.list"),
      ],
      subscribe: [`${P}.live.*`, `${P}.work.*`, inbox("gateway")],
    },
    session_log: {
      publish: [
        `${P}.live.*`,
        `${P}.wake.*`,
        `${P}.work.*`,
        `${P}.rpc.sandbox-manager.provision`,
        ...cp("vaults.check", "repositories.>"),
        // Probes harness workers' presence (fast detection of a dead worker).
        `${P}.presence.*`,
        jsInfo,
        `$JS.API.STREAM.INFO.${wake}`,
        `$JS.API.STREAM.CREATE.${wake}`,
        `$JS.API.STREAM.UPDATE.${wake}`,
      ],
      subscribe: [`${P}.rpc.session-log.>`, inbox("session_log")],
      allowResponses: true,
    },
    harness: {
      publish: [
        // Its turn loop only: leases and appends, log reads, liveness; no key minting, no API calls.
        ...sl("harness.>", "events.range", "workers.heartbeat"),
        `${P}.rpc.sandbox-manager.provision`,
        ...cp("mcp.>"),
        `${P}.hand.*.*.execute`,
        `${P}.live.*`,
        // Its own presence subject, once at start, to prove it answers.
        `${P}.presence.*`,
        jsInfo,
        `$JS.API.STREAM.INFO.${wake}`,
        `$JS.API.STREAM.CREATE.${wake}`,
        `$JS.API.STREAM.UPDATE.${wake}`,
        `$JS.API.CONSUMER.INFO.${wake}.harness`,
        // The oldest waiting wake-up's age, for tendon_wake_queue_oldest_age_seconds.
        `$JS.API.STREAM.MSG.GET.${wake}`,
        `$JS.API.CONSUMER.CREATE.${wake}.>`,
        `$JS.API.CONSUMER.DURABLE.CREATE.${wake}.harness`,
        `$JS.API.CONSUMER.MSG.NEXT.${wake}.harness`,
        `$JS.ACK.${wake}.>`,
        ...kvAdmin(hands),
        ...kvAdmin(exec),
      ],
      // Its presence subject (answered while it lives); replies go to the prober's inbox.
      subscribe: [`${P}.live.*`, `${P}.presence.*`, inbox("harness")],
      allowResponses: true,
    },
    sandbox_manager: {
      publish: [
        `$KV.${hands}.hands.sandbox.*`,
        `$KV.${exec}.sandbox.>`,
        jsInfo,
        ...kvAdmin(hands),
        ...kvAdmin(exec),
        ...cp("egress.register", "egress.unregister"),
      ],
      subscribe: [`${P}.rpc.sandbox-manager.>`, `${P}.hand.sandbox.*.execute`, inbox("sandbox_manager")],
      allowResponses: true,
    },
    // Serves its RPC and nothing else: it calls no other service.
    credential_proxy: {
      publish: [],
      subscribe: [`${P}.rpc.credential-proxy.>`, inbox("credential_proxy")],
      allowResponses: true,
    },
    // A machine serving custom tools: its own hand subjects, its registry entries and execution
    // records, nothing else (no RPC, no live events, no wake-ups, no sandbox records).
    hand: {
      publish: [
        `$KV.${hands}.hands.tool.*`,
        `$KV.${hands}.tools.*`,
        `$KV.${exec}.tool.>`,
        ...kvApi(hands),
        ...kvApi(exec),
      ],
      subscribe: [`${P}.hand.tool.*.execute`, inbox("hand")],
      allowResponses: true,
    },
    admin: { publish: [">"], subscribe: [">"] },
  };
}

const q = (v: string) => JSON.stringify(v);

export function renderNatsConfig(opts: {
  prefix: string;
  port?: number;
  storeDir?: string;
  passwords?: Partial<Record<NatsRole, string>>;
}): string {
  const perms = rolePermissions(opts.prefix);
  const users = (Object.keys(perms) as NatsRole[]).map((role) => {
    const p = perms[role];
    const password =
      opts.passwords?.[role] !== undefined
        ? q(opts.passwords[role]!)
        : `$TENDON_NATS_${role.toUpperCase()}_PASSWORD`;
    return [
      `    {`,
      `      user: ${q(role)}`,
      `      password: ${password}`,
      `      permissions: {`,
      // An empty allow list would allow everything: a role that publishes nothing is denied all
      // (replies still go out through allow_responses).
      p.publish.length > 0
        ? `        publish: { allow: [${p.publish.map(q).join(", ")}] }`
        : `        publish: { deny: [">"] }`,
      `        subscribe: { allow: [${p.subscribe.map(q).join(", ")}] }`,
      ...(p.allowResponses ? [`        allow_responses: true`] : []),
      `      }`,
      `    }`,
    ].join("\n");
  });
  return [
    `# Generated by "tendon nats-config --prefix ${opts.prefix}": one user per role, least privilege.`,
    `port: ${opts.port ?? 4222}`,
    `jetstream { store_dir: ${q(opts.storeDir ?? "/data")} }`,
    `authorization {`,
    `  users: [`,
    users.join("\n"),
    `  ]`,
    `}`,
    ``,
  ].join("\n");
}
