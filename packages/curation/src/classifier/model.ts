import { mulberry32, ValidationError } from "@tokenmill/domain";
import { artifactVersion, decodeArtifact, encodeArtifact, sha256, type ClassifierHeader } from "./artifact.js";
import { fastTextLoad, fastTextTrain } from "./fasttext.js";

/** One labelled example; `label` is the input label value as a string. */
export interface Example {
  id: string;
  text: string;
  label: string;
}

export interface TrainConfig {
  positive_label: string;
  /** Share of examples held out for evaluation (chosen by a seeded hash of the id). */
  holdout_fraction: number;
  seed: number;
  word_ngrams: number;
  buckets: number;
  dim: number;
  epochs: number;
  lr: number;
  min_count: number;
  lowercase: boolean;
}

/** Defaults measured on the DCLM human labels (BENCHMARKS.md): unigrams + bigrams, 2^18 buckets. */
export const DEFAULT_TRAIN_CONFIG: Omit<TrainConfig, "positive_label"> = {
  holdout_fraction: 0.2,
  seed: 1,
  word_ngrams: 2,
  buckets: 1 << 18,
  dim: 8,
  epochs: 20,
  lr: 1.0,
  min_count: 1,
  lowercase: true,
};

export interface Metrics {
  train_examples: number;
  holdout_examples: number;
  train_positive: number;
  holdout_positive: number;
  /** Held-out accuracy at threshold 0.5. */
  accuracy: number;
  /** Accuracy of always predicting the majority class of the training split, on the held-out split. */
  baseline_accuracy: number;
  /** Held-out ROC AUC (ties count one half). */
  auc: number | null;
}

export interface TrainResult {
  bytes: Uint8Array;
  version: string;
  sha256: string;
  header: ClassifierHeader;
  metrics: Metrics;
  /** sha256 over the examples in input order (id, label, text): the training data identity. */
  data_sha256: string;
}

const ENGINE_BUILD = "fasttext.wasm.js@1.0.0 (fastText 0.9.2, WebAssembly)";

/** fastText reads one line per example: newlines become spaces; optionally lowercased. */
export function prepareText(text: string, lowercase: boolean): string {
  const t = text.replace(/\s+/g, " ").trim();
  return lowercase ? t.toLowerCase() : t;
}

/** Deterministic split: an example is held out when the seeded hash of its id falls below the fraction. */
export function isHeldOut(id: string, seed: number, fraction: number): boolean {
  return parseInt(sha256(`${seed}:${id}`).slice(0, 8), 16) / 2 ** 32 < fraction;
}

export function rocAuc(scores: number[], positive: boolean[]): number | null {
  const idx = scores.map((_, i) => i).sort((a, b) => scores[a]! - scores[b]!);
  const ranks = new Array<number>(scores.length);
  for (let i = 0; i < idx.length; ) {
    let j = i;
    while (j + 1 < idx.length && scores[idx[j + 1]!] === scores[idx[i]!]) j++;
    for (let k = i; k <= j; k++) ranks[idx[k]!] = (i + j) / 2 + 1;
    i = j + 1;
  }
  let sum = 0;
  let np = 0;
  for (let k = 0; k < scores.length; k++) if (positive[k]) (sum += ranks[k]!), np++;
  const nn = scores.length - np;
  if (np === 0 || nn === 0) return null;
  return (sum - (np * (np + 1)) / 2) / (np * nn);
}

const round = (x: number) => Math.round(x * 1e4) / 1e4;

/** Trains a binary (positive label vs the rest) hashed word n-gram classifier with fastText. */
export async function trainClassifier(examples: Example[], cfg: TrainConfig): Promise<TrainResult> {
  const values = [...new Set(examples.map((e) => e.label))].sort();
  if (!values.includes(cfg.positive_label)) {
    throw new ValidationError(`${JSON.stringify(cfg.positive_label)} is not among the labels found (${values.map((v) => JSON.stringify(v)).join(", ")})`, "positive_label");
  }
  const others = values.filter((v) => v !== cfg.positive_label);
  if (others.length === 0) throw new ValidationError("every example has the positive label: a classifier needs both classes", "positive_label");
  const negative = others.length === 1 ? others[0]! : `not ${cfg.positive_label}`;
  const train: Example[] = [];
  const held: Example[] = [];
  for (const e of examples) (isHeldOut(e.id, cfg.seed, cfg.holdout_fraction) ? held : train).push(e);
  if (train.length === 0) throw new ValidationError("no training examples left after the held-out split", "holdout_fraction");
  const order = train.map((_, i) => i);
  const r = mulberry32(cfg.seed); // the training-order shuffle
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const lines = order.map((i) => `__label__${train[i]!.label === cfg.positive_label ? "pos" : "neg"} ${prepareText(train[i]!.text, cfg.lowercase)}`);
  const payload = await fastTextTrain(lines, {
    dim: cfg.dim,
    epoch: cfg.epochs,
    lr: cfg.lr,
    wordNgrams: cfg.word_ngrams,
    bucket: cfg.buckets,
    minCount: cfg.min_count,
    seed: cfg.seed,
  });
  const bytes = encodeArtifact(
    {
      engine: "fasttext",
      engine_build: ENGINE_BUILD,
      ngram: { word_ngrams: cfg.word_ngrams, lowercase: cfg.lowercase, tokenization: "whitespace" },
      buckets: cfg.buckets,
      dim: cfg.dim,
      labels: [negative, cfg.positive_label],
      payload_labels: ["neg", "pos"],
    },
    payload,
  );
  const model = await loadClassifier(bytes);
  let correct = 0;
  const scores: number[] = [];
  const truth: boolean[] = [];
  try {
    for (const e of held) {
      const s = model.score(e.text);
      const pos = e.label === cfg.positive_label;
      scores.push(s);
      truth.push(pos);
      if (s >= 0.5 === pos) correct++;
    }
  } finally {
    model.dispose();
  }
  const trainPos = train.filter((e) => e.label === cfg.positive_label).length;
  const heldPos = truth.filter(Boolean).length;
  const majorityPositive = trainPos * 2 >= train.length;
  const auc = rocAuc(scores, truth);
  const dataHash = sha256(examples.map((e) => JSON.stringify([e.id, e.label, e.text])).join("\n"));
  return {
    bytes,
    version: artifactVersion(bytes),
    sha256: sha256(bytes),
    header: decodeArtifact(bytes).header,
    data_sha256: dataHash,
    metrics: {
      train_examples: train.length,
      holdout_examples: held.length,
      train_positive: trainPos,
      holdout_positive: heldPos,
      accuracy: held.length ? round(correct / held.length) : 0,
      baseline_accuracy: held.length ? round((majorityPositive ? heldPos : held.length - heldPos) / held.length) : 0,
      auc: auc === null ? null : round(auc),
    },
  };
}

export interface Classifier {
  header: ClassifierHeader;
  /** Probability of the positive label. */
  score(text: string): number;
  dispose(): void;
}

export async function loadClassifier(bytes: Uint8Array): Promise<Classifier> {
  const { header, payload } = decodeArtifact(bytes);
  const ft = await fastTextLoad(payload);
  const pos = header.payload_labels[1];
  return {
    header,
    score(text) {
      return ft.probabilities(prepareText(text, header.ngram.lowercase)).get(pos) ?? 0;
    },
    dispose: () => ft.dispose(),
  };
}
