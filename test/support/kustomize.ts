/**
 * A renderer for the subset of kustomize that infra/k8s uses, so the manifests can be rendered and
 * validated where no kustomize binary is installed (Debian has none newer than kubectl 1.20's
 * kustomize v2, which lacks `labels` and `patches`). Where `kubectl kustomize` exists, the infra
 * test renders with both and requires the same objects.
 *
 * Supported: `resources` (files, and directories holding a kustomization.yaml, rendered first),
 * `namespace` (also on a binding's ServiceAccount subjects), `labels` (pairs on metadata.labels; includeSelectors/includeTemplates are refused),
 * `images` (newName/newTag/digest on containers and initContainers), `patches` with `path` only
 * (strategic merge, the target taken from the patch's kind and name), `configMapGenerator` and
 * `secretGenerator` (literals, envs, files; behavior create/merge/replace) and
 * `generatorOptions.disableNameSuffixHash: true` (required: name hashing is not implemented).
 * Anything else in a kustomization is an error, never silently ignored.
 *
 * Transformer order follows kustomize: a kustomization's resources and generators are collected,
 * then patches, namespace, labels and images are applied, in that order.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { parseAllDocuments } from "yaml";

export type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; [k: string]: unknown };
  [k: string]: unknown;
};

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

interface Generator {
  name: string;
  behavior?: "create" | "merge" | "replace";
  literals?: string[];
  envs?: string[];
  files?: string[];
  type?: string;
}

interface Kustomization {
  apiVersion?: string;
  kind?: string;
  resources?: string[];
  namespace?: string;
  labels?: { pairs: Record<string, string>; includeSelectors?: boolean; includeTemplates?: boolean }[];
  images?: { name: string; newName?: string; newTag?: string; digest?: string }[];
  patches?: { path?: string; target?: unknown; patch?: string }[];
  configMapGenerator?: Generator[];
  secretGenerator?: Generator[];
  generatorOptions?: { disableNameSuffixHash?: boolean };
}

const KNOWN = new Set([
  "apiVersion",
  "kind",
  "resources",
  "namespace",
  "labels",
  "images",
  "patches",
  "configMapGenerator",
  "secretGenerator",
  "generatorOptions",
]);
const CLUSTER_SCOPED = new Set([
  "Namespace",
  "ClusterRole",
  "ClusterRoleBinding",
  "CustomResourceDefinition",
  "PersistentVolume",
  "StorageClass",
  "PriorityClass",
]);
/** Strategic-merge keys of the list fields our manifests patch (as in the Kubernetes API types). */
const MERGE_KEYS: Record<string, string> = {
  containers: "name",
  initContainers: "name",
  env: "name",
  volumes: "name",
  volumeMounts: "mountPath",
  ports: "containerPort",
  imagePullSecrets: "name",
};

export function readYamlDocs(text: string, source: string): K8sObject[] {
  return parseAllDocuments(text)
    .map((d) => {
      if (d.errors.length > 0) throw new Error(`${source}: ${d.errors[0]!.message}`);
      return d.toJS() as K8sObject | null;
    })
    .filter((o): o is K8sObject => o !== null && typeof o === "object");
}

function kustomizationFile(dir: string): string {
  for (const n of ["kustomization.yaml", "kustomization.yml", "Kustomization"]) {
    if (existsSync(join(dir, n))) return join(dir, n);
  }
  throw new Error(`${dir}: no kustomization.yaml`);
}

const idOf = (o: K8sObject) => `${o.kind}/${o.metadata.name}`;

function parseEnvFile(text: string): [string, string][] {
  return text
    .split("\n")
    .map((l) => l.replace(/\r$/, ""))
    .filter((l) => l.trim() !== "" && !l.trimStart().startsWith("#"))
    .map((l) => {
      const i = l.indexOf("=");
      if (i <= 0) throw new Error(`env file line without "=": ${l}`);
      return [l.slice(0, i).trim(), l.slice(i + 1)];
    });
}

function generate(dir: string, g: Generator, kind: "ConfigMap" | "Secret"): K8sObject {
  const data: Record<string, string> = {};
  for (const lit of g.literals ?? []) {
    const i = lit.indexOf("=");
    data[lit.slice(0, i)] = lit.slice(i + 1);
  }
  for (const f of g.envs ?? []) {
    for (const [k, v] of parseEnvFile(readFileSync(join(dir, f), "utf8"))) data[k] = v;
  }
  for (const f of g.files ?? []) {
    const eq = f.indexOf("=");
    const [key, path] = eq > 0 ? [f.slice(0, eq), f.slice(eq + 1)] : [basename(f), f];
    data[key] = readFileSync(join(dir, path), "utf8");
  }
  const metadata = { name: g.name };
  if (kind === "ConfigMap") return { apiVersion: "v1", kind, metadata, data };
  const encoded = Object.fromEntries(
    Object.entries(data).map(([k, v]) => [k, Buffer.from(v, "utf8").toString("base64")]),
  );
  return { apiVersion: "v1", kind, metadata, type: g.type ?? "Opaque", data: encoded };
}

function isObject(v: unknown): v is Record<string, Json> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Strategic merge of `patch` into `base` (a new value; neither input is changed). */
export function strategicMerge(base: Json, patch: Json, field = ""): Json {
  if (patch === null) return null;
  if (Array.isArray(patch)) {
    const key = MERGE_KEYS[field];
    if (!key || !Array.isArray(base)) return structuredClone(patch);
    // As kustomize orders them: the patch's items first (merged into their base item), then the
    // base items the patch does not name.
    const named = (x: Json) => (isObject(x) ? x[key] : undefined);
    const out: Json[] = patch.map((p) => {
      const match = base.find((b) => named(b) !== undefined && named(b) === named(p));
      return match === undefined ? structuredClone(p) : strategicMerge(match, p, "");
    });
    for (const b of base) {
      if (!patch.some((p) => named(p) !== undefined && named(p) === named(b))) out.push(structuredClone(b));
    }
    return out;
  }
  if (isObject(patch)) {
    const out: Record<string, Json> = isObject(base) ? structuredClone(base) : {};
    for (const [k, v] of Object.entries(patch)) {
      if (v === null) delete out[k];
      else out[k] = strategicMerge(out[k] ?? null, v, k);
    }
    return out;
  }
  return patch;
}

function mergeGenerated(existing: K8sObject, generated: K8sObject, behavior: string): K8sObject {
  if (behavior === "replace") return { ...generated, metadata: existing.metadata };
  return {
    ...existing,
    data: { ...(existing.data as Record<string, string>), ...(generated.data as Record<string, string>) },
  };
}

function setImage(container: Record<string, Json>, images: NonNullable<Kustomization["images"]>): void {
  const image = String(container.image ?? "");
  const at = image.indexOf("@");
  const withoutDigest = at >= 0 ? image.slice(0, at) : image;
  const colon = withoutDigest.lastIndexOf(":");
  const hasTag = colon > withoutDigest.lastIndexOf("/");
  const name = hasTag ? withoutDigest.slice(0, colon) : withoutDigest;
  const rule = images.find((i) => i.name === name);
  if (!rule) return;
  const tag = hasTag ? withoutDigest.slice(colon + 1) : undefined;
  const digest = at >= 0 ? image.slice(at + 1) : undefined;
  const newName = rule.newName ?? name;
  if (rule.digest) container.image = `${newName}@${rule.digest}`;
  else if (rule.newTag) container.image = `${newName}:${rule.newTag}`;
  else container.image = `${newName}${tag ? `:${tag}` : ""}${digest ? `@${digest}` : ""}`;
}

function podSpecs(o: K8sObject): Record<string, Json>[] {
  const spec = o.spec as Record<string, Json> | undefined;
  if (!spec) return [];
  if (o.kind === "Pod") return [spec];
  if (o.kind === "CronJob") {
    const job = (spec.jobTemplate as Record<string, Json> | undefined)?.spec as Record<string, Json>;
    return [((job?.template as Record<string, Json>)?.spec as Record<string, Json>) ?? {}];
  }
  const tpl = spec.template as Record<string, Json> | undefined;
  return tpl?.spec && isObject(tpl.spec) ? [tpl.spec] : [];
}

/** Renders the kustomization in `dir` (a directory holding kustomization.yaml). */
export function renderKustomization(dir: string): K8sObject[] {
  const root = resolve(dir);
  const file = kustomizationFile(root);
  const k = readYamlDocs(readFileSync(file, "utf8"), file)[0] as unknown as Kustomization;
  for (const key of Object.keys(k)) {
    if (!KNOWN.has(key)) throw new Error(`${file}: "${key}" is not supported by this renderer`);
  }
  if ((k.configMapGenerator || k.secretGenerator) && k.generatorOptions?.disableNameSuffixHash !== true) {
    throw new Error(`${file}: generators need generatorOptions.disableNameSuffixHash: true here`);
  }

  const objects: K8sObject[] = [];
  const add = (o: K8sObject, source: string) => {
    if (objects.some((x) => idOf(x) === idOf(o) && x.metadata.namespace === o.metadata.namespace)) {
      throw new Error(`${source}: ${idOf(o)} is defined twice`);
    }
    objects.push(o);
  };
  for (const r of k.resources ?? []) {
    const p = resolve(root, r);
    if (statSync(p).isDirectory()) for (const o of renderKustomization(p)) add(o, p);
    else for (const o of readYamlDocs(readFileSync(p, "utf8"), p)) add(o, p);
  }

  for (const [gens, kind] of [
    [k.configMapGenerator, "ConfigMap"],
    [k.secretGenerator, "Secret"],
  ] as const) {
    for (const g of gens ?? []) {
      const made = generate(root, g, kind);
      const behavior = g.behavior ?? "create";
      const idx = objects.findIndex((o) => o.kind === kind && o.metadata.name === g.name);
      if (behavior === "create") add(made, file);
      else if (idx < 0) throw new Error(`${file}: ${kind}/${g.name} to ${behavior} does not exist`);
      else objects[idx] = mergeGenerated(objects[idx]!, made, behavior);
    }
  }

  for (const p of k.patches ?? []) {
    if (!p.path || p.target || p.patch) throw new Error(`${file}: only "patches: - path:" is supported`);
    const patchFile = resolve(root, p.path);
    for (const patch of readYamlDocs(readFileSync(patchFile, "utf8"), patchFile)) {
      const idx = objects.findIndex((o) => idOf(o) === idOf(patch));
      if (idx < 0) throw new Error(`${patchFile}: no ${idOf(patch)} to patch`);
      objects[idx] = strategicMerge(objects[idx] as unknown as Json, patch as unknown as Json) as K8sObject;
    }
  }

  if (k.namespace) {
    for (const o of objects) {
      if (!CLUSTER_SCOPED.has(o.kind)) o.metadata.namespace = k.namespace;
      // As kustomize does: a binding's ServiceAccount subjects without a namespace are in this one.
      if (o.kind === "RoleBinding" || o.kind === "ClusterRoleBinding") {
        for (const subject of (o.subjects as Record<string, Json>[] | undefined) ?? []) {
          if (subject.kind === "ServiceAccount" && subject.namespace === undefined)
            subject.namespace = k.namespace;
        }
      }
    }
  }

  for (const l of k.labels ?? []) {
    if (l.includeSelectors || l.includeTemplates) {
      throw new Error(`${file}: labels with includeSelectors/includeTemplates are not supported`);
    }
    for (const o of objects) o.metadata.labels = { ...o.metadata.labels, ...l.pairs };
  }

  if (k.images) {
    for (const o of objects) {
      for (const spec of podSpecs(o)) {
        for (const field of ["containers", "initContainers"]) {
          const list = spec[field];
          if (Array.isArray(list)) for (const c of list) if (isObject(c)) setImage(c, k.images);
        }
      }
    }
  }
  return objects;
}
