import type { InputIssue, InputPart, PipelineSpec, ShardEntry, StepStats } from "@tokenmill/domain";
import { bindDedupSteps, type DedupPass } from "./dedup/step.js";
import { DroppedWriter, droppedFileName } from "./dropped-writer.js";
import { type ReaderOptions, type ReadState } from "./reader.js";
import { inputSource, readInput } from "./readers/index.js";
import { ShardWriter, type ShardSink } from "./shard-writer.js";
import { createSteps } from "./steps/registry.js";
import { pipelineTokenizer } from "./tokenizer.js";
import type { BatchResult, Step, StepContext } from "./steps/step.js";
import type { Doc, Drop, TaskProgress } from "./types.js";

export interface RunTaskOptions {
  /** The input's bytes as stored (a Readable works: it is an AsyncIterable of Buffers). */
  input: AsyncIterable<Uint8Array>;
  /**
   * Bytes [start, end) of the input (e.g. `openInput(uri, opts, {start, end})`), with `size`: Parquet
   * then reads its footer and row groups by range instead of buffering the file (`input` is closed unread).
   */
  openRange?: (start: number, end: number) => Promise<AsyncIterable<Uint8Array>>;
  /** The input's size in bytes (InputFile.size); needed with openRange. */
  size?: number;
  /**
   * The piece of the input this task reads when the input is split (a byte range of plain JSONL,
   * or a run of Parquet row groups; needs openRange and size); the whole input when absent.
   */
  part?: InputPart | null;
  /** URI recorded in provenance (`file://…`, `s3://…`); with format "auto" its extension selects the reader. */
  uri: string;
  /** Source name recorded in provenance (shard `meta.source`, dropped records). */
  source: string;
  /** Position of this task in its run; names the shard and dropped files. */
  taskIndex: number;
  spec: PipelineSpec;
  fingerprint: string;
  store: ShardSink;
  /** Key prefix of the dataset version folder (ends with `/`, or "" for the store root). */
  prefix: string;
  reader?: ReaderOptions;
  signal?: AbortSignal;
  onProgress?: (p: TaskProgress) => void;
  /** Minimum milliseconds between two onProgress calls. Default 500. */
  progressIntervalMs?: number;
  /**
   * Most documents per step batch. Default 256. Batches are made smaller while they take longer than
   * BATCH_BUDGET_MS (the event loop only turns between batches); the output does not depend on it.
   */
  batchDocs?: number;
  /** Drop lists for the pipeline's dedup steps, and in a collect pass the barrier to stop at (dedup/step.ts). */
  dedup?: DedupPass;
  /** Where steps load trained classifiers from; defaults to `store` when it can also read (an ObjectStore). */
  classifiers?: StepContext["store"];
}

export interface TaskResult {
  docs_in: number;
  docs_kept: number;
  tokens_kept: number;
  bytes_in: number;
  /** `read` first, then the pipeline's steps in order. */
  steps: StepStats[];
  shards: ShardEntry[];
  /** Key of the dropped file relative to the dataset folder. */
  dropped_file: string;
  input_issues: InputIssue[];
}

// A batch also closes at this much text so a few huge documents do not pile up in memory.
const MAX_BATCH_CHARS = 16 * 1024 * 1024;
/**
 * Steps are synchronous: a batch holds the event loop for as long as it runs, and a worker's lock
 * renewal (LOCK_DURATION_MS) and progress writes wait for it. Batches are sized so one takes about
 * this long (on a loaded machine too: the size follows the measured time), the first ones small.
 */
const BATCH_BUDGET_MS = 100;
const FIRST_BATCH_DOCS = 8;

/**
 * Runs one input through the pipeline: read → steps (in batches) → shards + dropped file. The same
 * code serves the BullMQ worker and local mode. Cancellation is checked between batches; shards
 * already written stay (their keys are deterministic, so a retry overwrites them).
 */
export async function runTask(o: RunTaskOptions): Promise<TaskResult> {
  const steps = await createSteps(o.spec, { store: o.classifiers ?? readableStore(o.store) });
  const collectAt = bindDedupSteps(steps, o.dedup);
  const stats: StepStats[] = [{ step: "read", docs_in: 0, docs_out: 0, dropped: {} }, ...steps.map((s) => blankStats(s.name))];
  const readStats = stats[0]!;
  const state: ReadState = { bytes_read: 0, issues: [] };
  const dropped = new DroppedWriter(o.source, o.uri);
  const shards = new ShardWriter({
    sink: o.store,
    prefix: o.prefix,
    taskIndex: o.taskIndex,
    fingerprint: o.fingerprint,
    tokenizer: (await pipelineTokenizer(o.spec)).info,
    batchRows: o.spec.output.batch_rows,
    shardMaxTokens: o.spec.output.shard_max_tokens,
    keepText: o.spec.output.keep_text,
    source: o.source,
    file: o.uri,
    scoreColumns: scoreColumns(o.spec),
  });
  const progress = { docs_in: 0, docs_kept: 0, tokens_kept: 0 };
  const interval = o.progressIntervalMs ?? 500;
  let lastReport = Date.now();
  const report = (force: boolean) => {
    if (!o.onProgress || (!force && Date.now() - lastReport < interval)) return;
    lastReport = Date.now();
    o.onProgress({ bytes_read: state.bytes_read, ...progress });
  };

  // Dropped records are written in input order (line, then byte offset), not step by step within
  // a batch, so the dropped file does not depend on where batches end (their size follows time).
  // When a batch ends, every pending drop is of a document read before its last one.
  let pendingDrops: Drop[] = [];
  const drop = (s: StepStats, d: Drop) => {
    s.dropped[d.reason] = (s.dropped[d.reason] ?? 0) + 1;
    pendingDrops.push(d);
  };
  const flushDrops = () => {
    pendingDrops.sort((a, b) => a.line - b.line || a.byte_offset - b.byte_offset);
    for (const d of pendingDrops) dropped.add(d);
    pendingDrops = [];
  };
  const maxDocs = o.batchDocs ?? 256;
  let batchLimit = Math.min(maxDocs, FIRST_BATCH_DOCS);
  const runBatch = async (batch: Doc[]) => {
    o.signal?.throwIfAborted();
    const started = performance.now();
    let docs = batch;
    for (const [i, step] of steps.entries()) {
      const s = stats[i + 1]!;
      s.docs_in += docs.length;
      if (i === collectAt) {
        // Collect pass: the barrier takes the documents; nothing after it runs, no shards are written.
        await o.dedup!.collect!.add(docs);
        docs = [];
        break;
      }
      const out = await runStep(step, docs);
      for (const d of out.dropped) drop(s, d);
      if (out.counters) {
        const c = (s.counters ??= {});
        for (const [name, n] of Object.entries(out.counters)) c[name] = (c[name] ?? 0) + n;
      }
      s.docs_out += out.kept.length;
      docs = out.kept;
    }
    for (const doc of docs) {
      await shards.add(doc);
      progress.docs_kept += 1;
      progress.tokens_kept += doc.tokens!.length;
    }
    flushDrops();
    report(false);
    // The next batch's size from this one's time per document: at most double, at least one.
    const perDoc = (performance.now() - started) / batch.length;
    batchLimit = Math.max(1, Math.min(maxDocs, batchLimit * 2, Math.floor(BATCH_BUDGET_MS / Math.max(perDoc, 1e-3))));
    // Steps are synchronous CPU work behind a promise: give timers a turn between batches, so a
    // worker's queue-lock renewal and heartbeats are not starved through a long task.
    await new Promise<void>((resolve) => setImmediate(resolve));
  };

  let batch: Doc[] = [];
  let batchChars = 0;
  const source = inputSource(o.input, { openRange: o.openRange, size: o.size });
  for await (const ev of readInput(source, o.uri, o.reader ?? {}, state, o.part)) {
    // Also checked here, not only between batches: a long run of dropped lines makes no batch.
    o.signal?.throwIfAborted();
    progress.docs_in += 1;
    readStats.docs_in += 1;
    if (ev.kind === "doc") ev.doc.ordinal = progress.docs_in - 1;
    if (ev.kind === "drop") {
      drop(readStats, ev.drop);
      report(false);
      continue;
    }
    readStats.docs_out += 1;
    batch.push(ev.doc);
    batchChars += ev.doc.text.length;
    if (batch.length >= batchLimit || batchChars >= MAX_BATCH_CHARS) {
      await runBatch(batch);
      batch = [];
      batchChars = 0;
    }
  }
  if (batch.length > 0) await runBatch(batch);
  flushDrops();
  o.signal?.throwIfAborted();
  if (collectAt >= 0) return collectResult(o, await o.dedup!.collect!.finish(), progress.docs_in, state, stats.slice(0, collectAt + 2));

  const shardEntries = await shards.finish();
  const droppedFile = droppedFileName(o.taskIndex);
  await o.store.put(o.prefix + droppedFile, await dropped.finish());
  report(true);

  const result: TaskResult = {
    docs_in: progress.docs_in,
    docs_kept: progress.docs_kept,
    tokens_kept: progress.tokens_kept,
    bytes_in: state.bytes_read,
    steps: stats,
    shards: shardEntries,
    dropped_file: droppedFile,
    input_issues: state.issues,
  };
  assertConserved(result, dropped.count);
  return result;
}

async function runStep(step: Step, docs: Doc[]): Promise<BatchResult> {
  if (docs.length === 0) return { kept: docs, dropped: [] };
  const out = await step.processBatch(docs);
  if (out.kept.length + out.dropped.length !== docs.length) {
    throw new Error(`step ${step.name} lost documents: ${docs.length} in, ${out.kept.length} kept, ${out.dropped.length} dropped`);
  }
  return out;
}

/** A collect pass's result: counts up to the barrier only; the final pass reports the real ones. */
function collectResult(o: RunTaskOptions, collected: { docs: number }, docsIn: number, state: ReadState, steps: StepStats[]): TaskResult {
  o.onProgress?.({ bytes_read: state.bytes_read, docs_in: docsIn, docs_kept: 0, tokens_kept: 0 });
  return { docs_in: docsIn, docs_kept: collected.docs, tokens_kept: 0, bytes_in: state.bytes_read, steps, shards: [], dropped_file: "", input_issues: state.issues };
}

function readableStore(s: ShardSink): StepContext["store"] {
  const r = s as Partial<NonNullable<StepContext["store"]>>;
  return typeof r.get === "function" && typeof r.list === "function" ? (s as unknown as NonNullable<StepContext["store"]>) : undefined;
}

/** One float32 shard column per score step (DESIGN.md: "one float column per score"), named by its `field`. */
export function scoreColumns(spec: PipelineSpec): string[] {
  return [...new Set(spec.steps.filter((s) => s.step === "quality_classifier").map((s) => s.field as string))];
}

function blankStats(step: string): StepStats {
  return { step, docs_in: 0, docs_out: 0, dropped: {} };
}

/** Every document is kept or dropped exactly once; a bug that loses one must fail loudly. */
function assertConserved(r: TaskResult, droppedLines: number): void {
  const droppedCount = r.steps.reduce((n, s) => n + Object.values(s.dropped).reduce((a, b) => a + b, 0), 0);
  if (r.docs_in !== r.docs_kept + droppedCount || droppedCount !== droppedLines) {
    throw new Error(`conservation violated: docs_in ${r.docs_in}, kept ${r.docs_kept}, dropped ${droppedCount}, dropped lines ${droppedLines}`);
  }
}
