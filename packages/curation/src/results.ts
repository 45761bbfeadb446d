import {
  CURATION_CODE_VERSION,
  type InputIdentity,
  MANIFEST_VERSION,
  type Manifest,
  type PipelineSpec,
  pipelineHash,
  STATS_VERSION,
  type Stats,
  sortedRecord,
  sumStepStats,
  type TokenizerInfo,
} from "@tokenmill/domain";
import type { TaskResult } from "./run-task.js";

/** Sums task results (given in task order) into a dataset version's stats.json. */
export function mergeTaskResults(fingerprint: string, results: TaskResult[]): Stats {
  const steps = sumStepStats(results.map((r) => r.steps));
  const dropped_total: Record<string, number> = {};
  for (const s of steps) for (const [reason, n] of Object.entries(s.dropped)) dropped_total[reason] = (dropped_total[reason] ?? 0) + n;
  return {
    stats_version: STATS_VERSION,
    fingerprint,
    docs_in: sum(results, (r) => r.docs_in),
    docs_kept: sum(results, (r) => r.docs_kept),
    tokens_kept: sum(results, (r) => r.tokens_kept),
    bytes_in: sum(results, (r) => r.bytes_in),
    steps,
    dropped_total: sortedRecord(dropped_total),
    input_issues: results.flatMap((r) => r.input_issues),
  };
}

export interface BuildManifestOptions {
  dataset: string;
  fingerprint: string;
  tokenizer: TokenizerInfo;
  spec: PipelineSpec;
  inputs: InputIdentity[];
  /** Task results in task order; their shards are listed in that order. */
  results: TaskResult[];
  codeVersion?: string;
}

export function buildManifest(o: BuildManifestOptions): Manifest {
  const shards = o.results.flatMap((r) => r.shards);
  return {
    manifest_version: MANIFEST_VERSION,
    dataset: o.dataset,
    fingerprint: o.fingerprint,
    tokenizer: o.tokenizer,
    pipeline: { name: o.spec.name, hash: pipelineHash(o.spec) },
    code_version: o.codeVersion ?? CURATION_CODE_VERSION,
    inputs: o.inputs,
    shards,
    totals: {
      shards: shards.length,
      rows: sum(shards, (s) => s.rows),
      tokens: sum(shards, (s) => s.tokens),
      bytes: sum(shards, (s) => s.bytes),
    },
  };
}

function sum<T>(xs: T[], f: (x: T) => number): number {
  return xs.reduce((n, x) => n + f(x), 0);
}
