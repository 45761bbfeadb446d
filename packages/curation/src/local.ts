import { rm } from "node:fs/promises";
import { join, resolve } from "node:path";
import { DEFAULT_PIPELINE, type InputPart, type Manifest, type PipelineSpec, type Stats } from "@tokenmill/domain";
import { FileStore, inputIdentity, listManyInputs, LOCAL_SOURCE_POLICY, openInput } from "@tokenmill/storage";

/**
 * Local mode runs as the user who typed the command, with that user's own permissions, so it may
 * read any path or address the user can; the service's source guard limits are not applied here.
 */
const LOCAL_INPUT = { policy: LOCAL_SOURCE_POLICY };
import { dedupBarriers, dedupWorkPrefix, defaultPartitions } from "./dedup/config.js";
import { runCluster } from "./dedup/cluster.js";
import { runPartition } from "./dedup/partition.js";
import { collectPass, finalPass, removeDedupWork } from "./dedup/passes.js";
import { countPartLines, partsToCount, planParts, resolveLineBases } from "./parts.js";
import { DEFAULT_READER_OPTIONS, type ReaderOptions } from "./reader.js";
import { buildManifest, mergeTaskResults } from "./results.js";
import { runTask, type TaskResult } from "./run-task.js";
import { lazyStream } from "./readers/source.js";
import { planCuration } from "./fingerprint.js";
import type { TaskProgress } from "./types.js";

export interface LocalProgress extends TaskProgress {
  task_index: number;
  tasks_total: number;
  file: string;
}

export interface CurateLocalOptions {
  /** Validated pipeline; default DEFAULT_PIPELINE (normalize → length → tokenize). */
  spec?: PipelineSpec;
  /** Files, directories (every *.jsonl, *.jsonl.gz, *.jsonl.zst, *.parquet, *.arrow below, sorted), globs, or file://, s3://, http(s):// URIs. */
  inputs: string[];
  outDir: string;
  /** Dataset and source name recorded in the manifest and provenance. Default "local". */
  sourceName?: string;
  reader?: ReaderOptions;
  onProgress?: (p: LocalProgress) => void;
  signal?: AbortSignal;
  /** Hash partitions per dedup barrier; default one per task (at most 256). Does not change the output. */
  dedupPartitions?: number;
}

/**
 * Local mode: every input file is one task (a large one several: pipeline `output.split_bytes`),
 * run in this process (no Redis, no Postgres), into the same layout as a dataset version on the
 * object store: shard-*.arrow, manifest.json, stats.json, dropped/*.jsonl.gz. Tasks run one after
 * another.
 */
export async function curateLocal(o: CurateLocalOptions): Promise<{ manifest: Manifest; stats: Stats }> {
  const spec = o.spec ?? DEFAULT_PIPELINE;
  const files = await listManyInputs(o.inputs, LOCAL_INPUT);
  const inputs = [];
  for (const f of files) inputs.push(await inputIdentity(f, LOCAL_INPUT));
  const reader = { ...DEFAULT_READER_OPTIONS, ...o.reader };
  const store = new FileStore(resolve(o.outDir));
  const { fingerprint, spec: pinnedSpec, tokenizer } = await planCuration(spec, inputs, reader, store);
  const source = o.sourceName ?? "local";
  // Dedup barriers run the same passes as the worker, one after another in this process.
  const barriers = dedupBarriers(spec);
  const work = dedupWorkPrefix("");
  const tasks = await localTasks(files, spec.output.split_bytes, reader.format, o.signal);
  const partitions = o.dedupPartitions ?? defaultPartitions(tasks.length);
  for (const barrier of barriers) {
    for (const [taskIndex, { file, part }] of tasks.entries()) {
      await runTask({
        input: lazyStream(() => openInput(file.uri, LOCAL_INPUT)),
        openRange: (start, end) => openInput(file.uri, LOCAL_INPUT, { start, end }),
        size: file.size,
        part,
        uri: file.uri,
        source,
        taskIndex,
        spec: pinnedSpec,
        fingerprint,
        store,
        prefix: "",
        reader,
        signal: o.signal,
        dedup: await collectPass(store, work, barrier, taskIndex, partitions),
      });
    }
    const shape = { store, work, barrier: barrier.barrier, config: barrier.config, tasks: tasks.length };
    for (let partition = 0; partition < partitions; partition++) await runPartition({ ...shape, partition });
    await runCluster({ ...shape, partitions });
  }
  const results: TaskResult[] = [];
  for (const [taskIndex, { file, part }] of tasks.entries()) {
    const uri = file.uri;
    results.push(
      await runTask({
        input: lazyStream(() => openInput(uri, LOCAL_INPUT)),
        openRange: (start, end) => openInput(uri, LOCAL_INPUT, { start, end }),
        size: file.size,
        part,
        uri,
        source,
        taskIndex,
        spec: pinnedSpec,
        fingerprint,
        store,
        prefix: "",
        reader,
        signal: o.signal,
        onProgress: o.onProgress && ((p) => o.onProgress!({ ...p, task_index: taskIndex, tasks_total: tasks.length, file: uri })),
        dedup: await finalPass(store, work, barriers, taskIndex),
      }),
    );
  }
  const manifest = buildManifest({ dataset: source, fingerprint, tokenizer, spec, inputs, results });
  const stats = mergeTaskResults(fingerprint, results);
  // stats.json before manifest.json: the manifest's presence marks a complete dataset version.
  await store.put("stats.json", `${JSON.stringify(stats, null, 2)}\n`);
  await store.put("manifest.json", `${JSON.stringify(manifest, null, 2)}\n`);
  if (barriers.length > 0) {
    await removeDedupWork(store, work);
    await rm(join(resolve(o.outDir), "_work"), { recursive: true, force: true }); // the emptied folders
  }
  return { manifest, stats };
}

/** One task per input, or per part of a split input (byte parts counted here, one after another). */
async function localTasks(
  files: { uri: string; size: number }[],
  splitBytes: number,
  format: ReaderOptions["format"],
  signal?: AbortSignal,
): Promise<{ file: { uri: string; size: number }; part: InputPart | null }[]> {
  const tasks: { file: { uri: string; size: number }; part: InputPart | null }[] = [];
  for (const file of files) {
    const input = { uri: file.uri, size: file.size, openRange: (start: number, end: number) => openInput(file.uri, LOCAL_INPUT, { start, end }) };
    let parts = await planParts(input, splitBytes, format);
    if (!parts) {
      tasks.push({ file, part: null });
      continue;
    }
    for (const i of partsToCount(parts)) {
      const p = parts[i]!;
      if (p.kind === "bytes") parts[i] = { ...p, lines: await countPartLines(input, p, signal) };
    }
    parts = resolveLineBases(parts);
    for (const part of parts) tasks.push({ file, part });
  }
  return tasks;
}
