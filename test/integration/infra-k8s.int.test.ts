/**
 * infra/k8s, checked offline: both overlays render (with test/support/kustomize.ts, and with
 * `kubectl kustomize` too where it is installed, which must give the same objects), every rendered
 * object passes the Kubernetes JSON schemas (kubernetes-models) and has no field the API does not
 * know (@kubernetes/client-node's model types), and the deployment's rules hold: probes on the ops
 * port, resources, non-root, grace periods, PDBs, the HPA's metrics, secrets only by reference,
 * and NetworkPolicies that match the security model (evaluated, not just read).
 */
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as k8s from "@kubernetes/client-node";
import { afterAll, describe, expect, it } from "vitest";
import { type K8sObject, readYamlDocs, renderKustomization } from "../support/kustomize.js";

const ROOT = join(import.meta.dirname, "..", "..");
const K8S = join(ROOT, "infra", "k8s");
const SERVICES = ["gateway", "session-log", "harness-worker", "sandbox-manager", "credential-proxy"];

// Production reads git-ignored secrets/*.env: render a copy with the committed examples filled in.
const work = mkdtempSync(join(tmpdir(), "tendon-k8s-"));
cpSync(K8S, work, { recursive: true });
const prodSecrets = join(work, "overlays", "production", "secrets");
for (const f of readdirSync(prodSecrets)) {
  if (f.endsWith(".env.example"))
    cpSync(join(prodSecrets, f), join(prodSecrets, f.replace(/\.example$/, "")));
}
afterAll(() => rmSync(work, { recursive: true, force: true }));

const OVERLAYS = {
  dev: join(work, "overlays", "dev"),
  production: join(work, "overlays", "production"),
  "dev-pod-sandboxes": join(work, "overlays", "dev-pod-sandboxes"),
};
const rendered = Object.fromEntries(
  Object.entries(OVERLAYS).map(([name, dir]) => [name, renderKustomization(dir)]),
) as Record<keyof typeof OVERLAYS, K8sObject[]>;

const key = (o: K8sObject) => `${o.kind}/${o.metadata.namespace ?? ""}/${o.metadata.name}`;
const find = (objs: K8sObject[], kind: string, name: string) =>
  objs.find((o) => o.kind === kind && o.metadata.name === name);

type Obj = Record<string, unknown>;
const podSpec = (o: K8sObject) => ((o.spec as Obj).template as Obj).spec as Obj;
const podLabels = (o: K8sObject) => (((o.spec as Obj).template as Obj).metadata as Obj).labels as Labels;
const containers = (o: K8sObject) => podSpec(o).containers as Obj[];

// ---- schema checks ----------------------------------------------------------------------------

async function validateSchema(o: K8sObject): Promise<void> {
  const [group, version] = o.apiVersion.includes("/") ? o.apiVersion.split("/") : [undefined, o.apiVersion];
  const mod = (await import(`kubernetes-models/${group ? `${group}/` : ""}${version}`)) as Record<
    string,
    new (
      data: unknown,
    ) => { validate(): void }
  >;
  const Model = mod[o.kind];
  if (!Model) throw new Error(`no schema for ${o.apiVersion} ${o.kind}`);
  new Model(o).validate();
}

/** Fields the API does not know (a typo the schemas would let through), as JSON paths. */
function unknownFields(value: unknown, type: string, path: string): string[] {
  const arr = /^Array<(.+)>$/.exec(type);
  if (arr)
    return Array.isArray(value) ? value.flatMap((v, i) => unknownFields(v, arr[1]!, `${path}[${i}]`)) : [];
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) {
    return typeof value === "object" && value
      ? Object.entries(value).flatMap(([k, v]) => unknownFields(v, map[1]!, `${path}.${k}`))
      : [];
  }
  const cls = (
    k8s as unknown as Record<string, { getAttributeTypeMap?: () => { baseName: string; type: string }[] }>
  )[type];
  if (!cls?.getAttributeTypeMap || typeof value !== "object" || value === null) return [];
  const attrs = new Map(cls.getAttributeTypeMap().map((a) => [a.baseName, a.type]));
  return Object.entries(value).flatMap(([k, v]) => {
    const t = attrs.get(k);
    return t === undefined ? [`${path}.${k}`] : unknownFields(v, t, `${path}.${k}`);
  });
}
const modelType = (o: K8sObject) => {
  const version = o.apiVersion.split("/").at(-1)!;
  return `${version[0]!.toUpperCase()}${version.slice(1)}${o.kind}`;
};

// ---- NetworkPolicy evaluation -----------------------------------------------------------------

type Labels = Record<string, string>;
interface Selector {
  matchLabels?: Labels;
  matchExpressions?: {
    key: string;
    operator: "In" | "NotIn" | "Exists" | "DoesNotExist";
    values?: string[];
  }[];
}
interface Peer {
  podSelector?: Selector;
  namespaceSelector?: Selector;
  ipBlock?: { cidr: string; except?: string[] };
}
interface Rule {
  from?: Peer[];
  to?: Peer[];
  ports?: { port?: number; protocol?: string }[];
}
interface PolicySpec {
  podSelector: Selector;
  policyTypes: ("Ingress" | "Egress")[];
  ingress?: Rule[];
  egress?: Rule[];
}

function matches(sel: Selector, labels: Labels): boolean {
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of sel.matchExpressions ?? []) {
    const has = e.key in labels;
    const inValues = has && (e.values ?? []).includes(labels[e.key]!);
    if (e.operator === "In" && !inValues) return false;
    if (e.operator === "NotIn" && inValues) return false;
    if (e.operator === "Exists" && !has) return false;
    if (e.operator === "DoesNotExist" && has) return false;
  }
  return true;
}

interface Endpoint {
  labels: Labels;
  namespace: string;
  namespaceLabels: Labels;
}

function peerMatches(peer: Peer, other: Endpoint, policyNamespace: string): boolean {
  if (peer.ipBlock) return false; // pod-to-pod traffic: ipBlocks are for addresses outside the cluster
  const nsOk = peer.namespaceSelector
    ? matches(peer.namespaceSelector, other.namespaceLabels)
    : other.namespace === policyNamespace;
  return nsOk && (peer.podSelector ? matches(peer.podSelector, other.labels) : true);
}

/** Whether `from` may open a TCP connection to `to`:`port`, under the policies in each's namespace. */
function allowed(policies: K8sObject[], from: Endpoint, to: Endpoint, port: number): boolean {
  const side = (self: Endpoint, other: Endpoint, dir: "Ingress" | "Egress") => {
    const selecting = policies
      .filter((p) => p.metadata.namespace === self.namespace)
      .filter((p) => {
        const s = p.spec as PolicySpec;
        return s.policyTypes.includes(dir) && matches(s.podSelector, self.labels);
      });
    if (selecting.length === 0) return true;
    return selecting.some((p) => {
      const rules = ((p.spec as PolicySpec)[dir === "Ingress" ? "ingress" : "egress"] ?? []) as Rule[];
      return rules.some((r) => {
        const peers = dir === "Ingress" ? r.from : r.to;
        const peerOk = !peers || peers.some((peer) => peerMatches(peer, other, self.namespace));
        const portOk = !r.ports || r.ports.some((pp) => pp.port === undefined || pp.port === port);
        return peerOk && portOk;
      });
    });
  };
  return side(from, to, "Egress") && side(to, from, "Ingress");
}

/** Whether a pod may reach some address outside the cluster on `port` (an ipBlock egress rule). */
function reachesOutside(policies: K8sObject[], self: Endpoint, port: number): boolean {
  const selecting = policies.filter(
    (p) =>
      p.metadata.namespace === self.namespace &&
      (p.spec as PolicySpec).policyTypes.includes("Egress") &&
      matches((p.spec as PolicySpec).podSelector, self.labels),
  );
  if (selecting.length === 0) return true;
  return selecting.some((p) =>
    ((p.spec as PolicySpec).egress ?? []).some(
      (r) =>
        (!r.to || r.to.some((peer) => peer.ipBlock)) &&
        (!r.ports || r.ports.some((pp) => pp.port === undefined || pp.port === port)),
    ),
  );
}

/**
 * What may differ between two correct renderings: kustomize wraps long base64 lines, and orders
 * the items a strategic-merge patch adds to a keyed list (env, containers…) differently.
 */
function normalize(v: unknown): unknown {
  if (Array.isArray(v)) {
    const items = v.map(normalize);
    const named = items.every(
      (i) => typeof i === "object" && i !== null && typeof (i as Obj).name === "string",
    );
    return named
      ? items.sort((a, b) => String((a as Obj).name).localeCompare(String((b as Obj).name)))
      : items;
  }
  if (typeof v !== "object" || v === null) return v;
  const o = v as Obj;
  const out = Object.fromEntries(Object.entries(o).map(([k, x]) => [k, normalize(x)]));
  if (o.kind === "Secret" && o.data) {
    out.data = Object.fromEntries(
      Object.entries(o.data as Labels).map(([k, x]) => [k, x.replace(/\s/g, "")]),
    );
  }
  return out;
}

// ---- tests ------------------------------------------------------------------------------------

const kubectl = spawnSync("kubectl", ["version", "--client"], { encoding: "utf8" }).status === 0;

describe.each(Object.keys(OVERLAYS) as (keyof typeof OVERLAYS)[])("infra/k8s/overlays/%s", (overlay) => {
  const objs = rendered[overlay];
  const deployments = objs.filter((o) => o.kind === "Deployment" && SERVICES.includes(o.metadata.name));
  const isDev = overlay !== "production";
  const podSandboxes = overlay === "dev-pod-sandboxes";

  it.skipIf(!kubectl)("renders the same objects with kubectl kustomize (needs kubectl)", () => {
    const r = spawnSync("kubectl", ["kustomize", OVERLAYS[overlay]], { encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    const theirs = readYamlDocs(r.stdout, "kubectl kustomize");
    const byKey = (list: K8sObject[]) => new Map(list.map((o) => [key(o), normalize(o)]));
    expect(byKey(objs)).toEqual(byKey(theirs));
  });

  it("passes the Kubernetes schemas, with no unknown field, and the validator does reject bad objects", async () => {
    const broken = structuredClone(deployments[0]!);
    (broken.spec as Obj).replicas = "two";
    await expect(validateSchema(broken)).rejects.toThrow(/replicas/);
    (broken.spec as Obj).replicas = 1;
    (broken.spec as Obj).replica = 1;
    expect(unknownFields(broken, modelType(broken), "")).toEqual([".spec.replica"]);

    expect(objs.length).toBeGreaterThan(30);
    for (const o of objs) {
      await validateSchema(o);
      expect(unknownFields(o, modelType(o), ""), key(o)).toEqual([]);
      if (o.kind !== "Namespace") expect(o.metadata.namespace, key(o)).toBe(isDev ? "tendon-dev" : "tendon");
      expect(o.metadata.labels?.["app.kubernetes.io/instance"], key(o)).toBeDefined();
    }
  });

  it("runs each service non-root with probes on the ops port, resources and a Service", () => {
    expect(deployments.map((d) => d.metadata.name).sort()).toEqual([...SERVICES].sort());
    const config = find(objs, "ConfigMap", "tendon-config")!.data as Labels;
    expect(config.OPS_PORT).toBe("9464");
    for (const d of deployments) {
      const name = d.metadata.name;
      const pod = podSpec(d);
      expect((pod.securityContext as Obj).runAsNonRoot, name).toBe(true);
      expect(pod.automountServiceAccountToken, name).toBe(podSandboxes && name === "sandbox-manager");
      const [c] = containers(d);
      expect(c, name).toBeDefined();
      const ops = (c!.ports as Obj[]).find((p) => p.name === "ops");
      expect(ops?.containerPort, name).toBe(9464);
      expect(c!.readinessProbe, name).toMatchObject({ httpGet: { path: "/readyz", port: "ops" } });
      expect(c!.livenessProbe, name).toMatchObject({ httpGet: { path: "/healthz", port: "ops" } });
      const res = c!.resources as { requests: Labels; limits: Labels };
      for (const r of ["cpu", "memory"]) {
        expect(res.requests[r], `${name} ${r} request`).toBeDefined();
        expect(res.limits[r], `${name} ${r} limit`).toBeDefined();
      }
      expect((c!.securityContext as Obj).allowPrivilegeEscalation, name).toBe(false);
      expect(((c!.securityContext as Obj).capabilities as Obj).drop, name).toEqual(["ALL"]);
      const envFrom =
        (c!.envFrom as { configMapRef?: { name: string }; secretRef?: { name: string } }[]) ?? [];
      expect(envFrom.map((e) => e.configMapRef?.name ?? e.secretRef?.name)).toEqual([
        "tendon-config",
        `tendon-${name}`,
      ]);
      expect(find(objs, "Secret", `tendon-${name}`), `secret of ${name}`).toBeDefined();
      const svc = find(objs, "Service", name);
      expect(svc, name).toBeDefined();
      expect(matches({ matchLabels: (svc!.spec as Obj).selector as Labels }, podLabels(d)), name).toBe(true);
      expect(String(c!.image), name).toMatch(!isDev ? /^registry\.example\.com\/.+:0\.1\.0$/ : /:dev$/);
    }
  });

  it("gives the harness a grace period above its shutdown grace, and the gateway a preStop drain", () => {
    const hw = find(objs, "Deployment", "harness-worker")!;
    const env = (containers(hw)[0]!.env as { name: string; value: string }[]) ?? [];
    const graceMs = Number(env.find((e) => e.name === "HARNESS_SHUTDOWN_GRACE_MS")?.value);
    expect(graceMs).toBeGreaterThan(0);
    expect((podSpec(hw).terminationGracePeriodSeconds as number) * 1000).toBeGreaterThan(graceMs + 5_000);
    expect(containers(find(objs, "Deployment", "gateway")!)[0]!.lifecycle).toMatchObject({
      preStop: { exec: { command: ["sleep", "5"] } },
    });
  });

  it("has a PDB for every service and an HPA on CPU and tendon_wake_queue_depth", () => {
    for (const d of deployments) {
      const pdb = objs.find(
        (o) =>
          o.kind === "PodDisruptionBudget" &&
          matches((o.spec as { selector: Selector }).selector, podLabels(d)),
      );
      expect(pdb, d.metadata.name).toBeDefined();
    }
    const hpa = find(objs, "HorizontalPodAutoscaler", "harness-worker")!;
    const spec = hpa.spec as {
      scaleTargetRef: Obj;
      metrics: Obj[];
      minReplicas: number;
      maxReplicas: number;
    };
    expect(spec.scaleTargetRef).toMatchObject({ kind: "Deployment", name: "harness-worker" });
    expect(spec.metrics).toContainEqual(
      expect.objectContaining({ type: "Resource", resource: expect.objectContaining({ name: "cpu" }) }),
    );
    expect(spec.metrics).toContainEqual(
      expect.objectContaining({
        type: "External",
        external: expect.objectContaining({ metric: { name: "tendon_wake_queue_depth" } }),
      }),
    );
    expect(spec.maxReplicas).toBeGreaterThan(spec.minReplicas);
  });

  it("holds no secret inline: secret-looking env vars come from Secrets, each service only its own", () => {
    const SECRET = /PASSWORD|SECRET|MASTER_KEY|API_KEY|TOKEN|DATABASE_URL/;
    for (const o of objs) {
      if (!["Deployment", "StatefulSet", "Job"].includes(o.kind)) continue;
      for (const c of containers(o)) {
        for (const e of (c.env as { name: string; value?: string }[]) ?? []) {
          expect(SECRET.test(e.name) && e.value !== undefined, `${key(o)} ${e.name} inline`).toBe(false);
        }
      }
    }
    const keysOf = (name: string) => Object.keys((find(objs, "Secret", name)?.data as Obj) ?? {});
    const natsUsers = new Set<string>();
    for (const s of SERVICES) {
      const secret = find(objs, "Secret", `tendon-${s}`)!;
      const user = Buffer.from(String((secret.data as Labels).NATS_USER), "base64").toString();
      expect(natsUsers.has(user), `NATS user ${user} shared`).toBe(false);
      natsUsers.add(user);
      const hasDb = keysOf(`tendon-${s}`).some((k) => /DATABASE_URL/.test(k));
      expect(hasDb, `${s} holds a database URL`).toBe(s === "session-log" || s === "credential-proxy");
      expect(keysOf(`tendon-${s}`).includes("TENDON_MASTER_KEY"), s).toBe(s === "credential-proxy");
    }
  });

  it("enforces the network model", () => {
    const policies = objs.filter((o) => o.kind === "NetworkPolicy");
    const ns = isDev ? "tendon-dev" : "tendon";
    const pod = (name: string, namespace = ns): Endpoint => {
      const w = objs.find(
        (o) =>
          ["Deployment", "StatefulSet", "Job"].includes(o.kind) &&
          podLabels(o)?.["app.kubernetes.io/name"] === name,
      );
      const labels = w ? podLabels(w) : { "app.kubernetes.io/name": name };
      return { labels, namespace, namespaceLabels: { "kubernetes.io/metadata.name": namespace } };
    };
    // In production NATS and Postgres live in tendon-data (with their own policies, not rendered here).
    const dataNs = isDev ? ns : "tendon-data";
    const nats = pod("nats", dataNs);
    const postgres = pod("postgres", dataNs);
    const sandboxPod: Endpoint = { ...pod("sandbox"), labels: { "app.kubernetes.io/name": "sandbox" } };
    const can = (a: Endpoint, b: Endpoint, port: number) => allowed(policies, a, b, port);

    for (const s of SERVICES) expect(can(pod(s), nats, 4222), `${s} -> nats`).toBe(true);
    for (const s of ["session-log", "credential-proxy", "migrate"]) {
      expect(can(pod(s), postgres, 5432), `${s} -> postgres`).toBe(true);
    }
    for (const s of ["gateway", "harness-worker", "sandbox-manager"]) {
      expect(can(pod(s), postgres, 5432), `${s} -> postgres`).toBe(false);
    }
    // The sandboxes' host: NATS and the egress proxy, nothing else.
    const sbm = pod("sandbox-manager");
    expect(can(sbm, pod("credential-proxy"), 3128)).toBe(true);
    for (const s of ["gateway", "session-log", "harness-worker", "credential-proxy"]) {
      expect(can(sbm, pod(s), 9464), `sandbox-manager -> ${s}:9464`).toBe(false);
    }
    expect(can(sbm, pod("gateway"), 8080)).toBe(false);
    // With pod sandboxes the manager talks to the API server (private addresses only).
    expect(reachesOutside(policies, sbm, 443)).toBe(podSandboxes);
    expect(reachesOutside(policies, sbm, 80)).toBe(false);
    // Only the sandbox-manager reaches the egress proxy.
    for (const s of ["gateway", "session-log", "harness-worker"]) {
      expect(can(pod(s), pod("credential-proxy"), 3128), `${s} -> egress proxy`).toBe(false);
    }
    // Sandbox pods (kubernetes provider): their manager's relay only; no DNS, NATS or proxy.
    expect(can(sandboxPod, sbm, 3129)).toBe(true);
    expect(can(sandboxPod, nats, 4222)).toBe(false);
    expect(can(sandboxPod, pod("credential-proxy"), 3128)).toBe(false);
    expect(
      can(sandboxPod, { ...pod("kube-dns", "kube-system"), labels: { "k8s-app": "kube-dns" } }, 53),
    ).toBe(false);
    expect(reachesOutside(policies, sandboxPod, 443)).toBe(false);
    // The edge and the outside world.
    expect(can({ ...pod("client", "ingress"), labels: {} }, pod("gateway"), 8080)).toBe(true);
    expect(can({ ...pod("client", "ingress"), labels: {} }, pod("session-log"), 8080)).toBe(false);
    expect(reachesOutside(policies, pod("harness-worker"), 443)).toBe(true);
    expect(reachesOutside(policies, pod("gateway"), 443)).toBe(false);
    expect(reachesOutside(policies, pod("session-log"), 443)).toBe(false);
    for (const s of SERVICES) {
      expect(can({ ...pod("prometheus", "monitoring"), labels: {} }, pod(s), 9464), `scrape ${s}`).toBe(true);
    }
    if (isDev) {
      expect(can(pod("harness-worker"), pod("mock-model"), 8090)).toBe(true);
      expect(can(pod("gateway"), pod("mock-model"), 8090)).toBe(false);
      expect(can(pod("gateway"), nats, 4222)).toBe(true);
      expect(can(sbm, postgres, 5432)).toBe(false);
      expect(readFileSync(join(K8S, "overlays", "dev", "nats.conf"), "utf8")).toBe(
        readFileSync(join(ROOT, "infra", "nats", "nats.conf"), "utf8"),
      );
    }
  });

  it.skipIf(!podSandboxes)(
    "gives the kubernetes sandbox provider a pod-only Role, a token and its relay",
    () => {
      const sbm = find(objs, "Deployment", "sandbox-manager")!;
      const env = containers(sbm)[0]!.env as { name: string; value?: string }[];
      const at = (n: string) => env.findIndex((e) => e.name === n);
      expect(env[at("TENDON_SANDBOX_PROVIDER")]?.value).toBe("kubernetes");
      expect(env[at("TENDON_SANDBOX_RELAY_ADDR")]?.value).toBe("$(POD_IP):3129");
      expect(at("POD_IP")).toBeGreaterThanOrEqual(0);
      expect(at("POD_IP")).toBeLessThan(at("TENDON_SANDBOX_RELAY_ADDR"));
      expect(((podSpec(sbm).securityContext as Obj).seccompProfile as Obj).type).toBe("RuntimeDefault");
      expect(find(objs, "ServiceAccount", "tendon-sandbox-manager")!.automountServiceAccountToken).toBe(true);
      const role = find(objs, "Role", "tendon-sandbox-manager")!;
      const resources = (role.rules as { resources: string[] }[]).flatMap((r) => r.resources).sort();
      expect(resources).toEqual(["pods", "pods/exec"]);
      const binding = find(objs, "RoleBinding", "tendon-sandbox-manager")!;
      expect(binding.subjects).toEqual([
        expect.objectContaining({ kind: "ServiceAccount", name: "tendon-sandbox-manager" }),
      ]);
      const api = find(objs, "NetworkPolicy", "sandbox-manager-apiserver")!;
      const cidrs = ((api.spec as PolicySpec).egress ?? []).flatMap((r) =>
        (r.to ?? []).map((p) => p.ipBlock?.cidr),
      );
      expect(cidrs.sort()).toEqual(["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]);
    },
  );
});
