import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { NotFoundError, ValidationError, type InputIdentity, type PipelineSpec } from "@tokenmill/domain";
import { fileUriToPath, type InputOptions, inputIdentity, listInputs, openInput, type ObjectStore } from "@tokenmill/storage";
import { readJsonl, type ReaderOptions } from "../reader.js";
import { DEFAULT_TRAIN_CONFIG, trainClassifier, type Example, type Metrics, type TrainConfig, type TrainResult } from "./model.js";
import type { ClassifierHeader } from "./artifact.js";

/** Only `get`, `put` and `list` of the ObjectStore interface are needed. */
export type ClassifierStore = Pick<ObjectStore, "get" | "put" | "list">;
export type ClassifierReader = Pick<ObjectStore, "get" | "list">;

/** Training is synchronous (in the API request): inputs larger than this, as stored, are refused. */
export const MAX_TRAINING_BYTES = 100_000_000;

export const CLASSIFIER_NAME_RE = /^[a-z0-9][a-z0-9._-]{0,127}$/;

/** `meta.json` beside `model.bin` under `classifiers/<name>/<version>/`. */
export interface ClassifierMeta {
  name: string;
  version: string;
  /** sha256 of model.bin (the version is its first 16 hex digits). */
  sha256: string;
  bytes: number;
  created_at: string;
  header: ClassifierHeader;
  config: TrainConfig;
  metrics: Metrics;
  training_data: {
    source?: { id?: string; name: string };
    inputs: InputIdentity[];
    text_field: string;
    id_field: string;
    label_field: string;
    examples: number;
    /** Examples whose label field was missing (not used). */
    skipped_unlabelled: number;
    label_counts: Record<string, number>;
    data_sha256: string;
  };
}

export const classifierPrefix = (name: string, version: string) => `classifiers/${name}/${version}/`;

/** Reads a dotted path (`meta.label`) out of a document's fields. */
export function fieldAt(fields: Record<string, unknown>, path: string): unknown {
  let v: unknown = fields;
  for (const part of path.split(".")) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  return v;
}

/**
 * Reads labelled examples from JSONL / JSONL.gz inputs (a file, folder, glob or prefix URI), through
 * the source guard with `input.policy` (the service's policy; default: no file://, public hosts only).
 */
export async function readExamples(
  uri: string,
  reader: ReaderOptions,
  labelField: string,
  maxBytes = MAX_TRAINING_BYTES,
  input: InputOptions = {},
): Promise<{ examples: Example[]; inputs: InputIdentity[]; skipped: number }> {
  const files = await listInputs(uri, input);
  const total = files.reduce((n, f) => n + f.size, 0);
  if (total > maxBytes) {
    throw new ValidationError(`the source holds ${total} bytes; training runs in the request and takes at most ${maxBytes} (sample the labelled data down)`, "source");
  }
  const examples: Example[] = [];
  const inputs: InputIdentity[] = [];
  let skipped = 0;
  for (const f of files) {
    inputs.push(await inputIdentity(f, input));
    for await (const ev of readJsonl(await openInput(f.uri, input), f.uri, reader, { bytes_read: 0, issues: [] })) {
      if (ev.kind !== "doc") continue;
      const label = fieldAt(ev.doc.fields, labelField);
      if (label === undefined || label === null || typeof label === "object") {
        skipped++;
        continue;
      }
      examples.push({ id: files.length > 1 ? `${f.uri}#${ev.doc.doc_id}` : ev.doc.doc_id, text: ev.doc.text, label: String(label) });
    }
  }
  return { examples, inputs, skipped };
}

export interface TrainFromSourceOptions {
  name: string;
  uri: string;
  source?: { id?: string; name: string };
  reader?: ReaderOptions;
  label_field: string;
  config: Partial<TrainConfig> & { positive_label: string };
  /** How to train (default trainClassifier, in this thread); a server passes trainClassifierInChild. */
  train?: (examples: Example[], config: TrainConfig) => Promise<TrainResult>;
  /** S3 settings and the source guard's policy for reading the training data. */
  input?: InputOptions;
}

/** Reads the examples, trains, and stores `model.bin` + `meta.json` (an existing version is left as is). */
export async function trainAndStoreClassifier(store: ClassifierStore, o: TrainFromSourceOptions): Promise<ClassifierMeta> {
  if (!CLASSIFIER_NAME_RE.test(o.name)) throw new ValidationError("must be 1-128 characters of a-z, 0-9, '.', '_' or '-', starting with a letter or digit", "name");
  const reader = { text_field: "text", id_field: "id", ...o.reader };
  const { examples, inputs, skipped } = await readExamples(o.uri, reader, o.label_field, MAX_TRAINING_BYTES, o.input);
  if (examples.length === 0) throw new ValidationError(`no document has a value in label field "${o.label_field}"`, "label_field");
  const config: TrainConfig = { ...DEFAULT_TRAIN_CONFIG, ...o.config };
  const r = await (o.train ?? trainClassifier)(examples, config);
  const labelCounts: Record<string, number> = {};
  for (const e of examples) labelCounts[e.label] = (labelCounts[e.label] ?? 0) + 1;
  const prefix = classifierPrefix(o.name, r.version);
  const existing = await getClassifierMeta(store, o.name, r.version).catch(() => null);
  if (existing) return existing;
  const meta: ClassifierMeta = {
    name: o.name,
    version: r.version,
    sha256: r.sha256,
    bytes: r.bytes.byteLength,
    created_at: new Date().toISOString(),
    header: r.header,
    config,
    metrics: r.metrics,
    training_data: {
      ...(o.source ? { source: o.source } : {}),
      inputs,
      text_field: reader.text_field,
      id_field: reader.id_field,
      label_field: o.label_field,
      examples: examples.length,
      skipped_unlabelled: skipped,
      label_counts: labelCounts,
      data_sha256: r.data_sha256,
    },
  };
  await store.put(prefix + "model.bin", r.bytes);
  // meta.json last: a version is listed only once its model is in place.
  await store.put(prefix + "meta.json", JSON.stringify(meta, null, 2) + "\n");
  return meta;
}

export async function getClassifierMeta(store: ClassifierReader, name: string, version: string): Promise<ClassifierMeta> {
  try {
    return JSON.parse((await store.get(classifierPrefix(name, version) + "meta.json")).toString("utf8")) as ClassifierMeta;
  } catch (err) {
    if (err instanceof NotFoundError || (err as { code?: string }).code === "ENOENT") throw new NotFoundError("classifier", `${name}@${version}`);
    throw err;
  }
}

/** Every stored classifier version (optionally of one name), newest first. */
export async function listClassifiers(store: ClassifierReader, name?: string): Promise<ClassifierMeta[]> {
  const objects = await store.list(name ? `classifiers/${name}/` : "classifiers/");
  const metas: ClassifierMeta[] = [];
  for (const o of objects) {
    const m = /^classifiers\/([^/]+)\/([^/]+)\/meta\.json$/.exec(o.key);
    if (m) metas.push(await getClassifierMeta(store, m[1]!, m[2]!));
  }
  return metas.sort((a, b) => (a.name === b.name ? b.created_at.localeCompare(a.created_at) || a.version.localeCompare(b.version) : a.name.localeCompare(b.name)));
}

/**
 * Resolves a model reference to the artifact's bytes: `name@version`, `name` (the newest version),
 * or — when no store is given or for a path-like reference — a local file path / file:// URI.
 */
/** Whether a quality_classifier `model` names a file (local mode) rather than a stored `name[@version]`. */
export function isClassifierPath(ref: string): boolean {
  return ref.startsWith("file://") || ref.startsWith("/") || ref.startsWith("./") || ref.startsWith("../") || ref.endsWith(".bin");
}

export async function loadClassifierBytes(ref: string, store?: ClassifierReader): Promise<{ bytes: Uint8Array; ref: string }> {
  if (isClassifierPath(ref) || !store) {
    const path = ref.startsWith("file://") ? fileUriToPath(ref) : ref;
    return { bytes: new Uint8Array(await readFile(path)), ref: path };
  }
  const at = ref.lastIndexOf("@");
  const name = at > 0 ? ref.slice(0, at) : ref;
  let version = at > 0 ? ref.slice(at + 1) : undefined;
  if (!version) {
    const all = await listClassifiers(store, name);
    if (all.length === 0) throw new NotFoundError("classifier", name);
    version = all[0]!.version;
  }
  const bytes = await store.get(classifierPrefix(name, version) + "model.bin").catch((err: unknown) => {
    if (err instanceof NotFoundError || (err as { code?: string }).code === "ENOENT") throw new NotFoundError("classifier", `${name}@${version}`);
    throw err;
  });
  return { bytes: new Uint8Array(bytes), ref: `${name}@${version}` };
}

/**
 * Pins the trained models a pipeline loads: each quality_classifier `model` given as `name` (the
 * newest version) becomes `name@version`, and every model is named by the sha256 of its bytes for
 * the dataset fingerprint. Tasks run the pinned spec, so a classifier trained while a run is under
 * way changes neither its output nor, for the same fingerprint, any later run's.
 */
export async function pinClassifiers(spec: PipelineSpec, store?: ClassifierReader): Promise<{ spec: PipelineSpec; models: { ref: string; sha256: string }[] }> {
  const models: { ref: string; sha256: string }[] = [];
  const steps = [];
  for (const step of spec.steps) {
    if (step.step !== "quality_classifier" || !step.model) {
      steps.push(step);
      continue;
    }
    const { bytes, ref } = await loadClassifierBytes(step.model as string, store);
    const stored = !ref.startsWith("/") && ref.includes("@");
    models.push({ ref: stored ? ref : String(step.model), sha256: createHash("sha256").update(bytes).digest("hex") });
    steps.push(stored ? { ...step, model: ref } : step);
  }
  return { spec: { ...spec, steps }, models };
}
