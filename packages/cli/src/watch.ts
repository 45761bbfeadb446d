import cliProgress from "cli-progress";
import type { Client } from "./client.js";
import { bytes, funnel } from "./format.js";

const TERMINAL = new Set(["succeeded", "failed", "cancelled"]);
const POLL_MS = 500;

/**
 * Follows a run until it ends: a progress bar on a terminal, one line per 10% otherwise (logs,
 * CI). Prints the per-step funnel and where the shards are at the end.
 */
export async function watchRun(client: Client, id: string, opts: { json: boolean }): Promise<any> {
  const tty = process.stderr.isTTY && !opts.json;
  const bar = tty
    ? new cliProgress.SingleBar(
        { format: "{status} |{bar}| {percentage}% | {done}/{total} tasks | {bytes} | {docs} docs", stream: process.stderr, hideCursor: true },
        cliProgress.Presets.shades_classic,
      )
    : null;
  let run = await client.get(`/curation-runs/${id}`);
  bar?.start(100, 0, fields(run));
  let lastLine = "";
  while (!TERMINAL.has(run.status)) {
    await new Promise((r) => setTimeout(r, POLL_MS));
    run = await client.get(`/curation-runs/${id}`);
    const pct = Math.floor(run.progress.fraction * 100);
    if (bar) bar.update(pct, fields(run));
    else if (!opts.json) {
      // Without a terminal: one line per status change or per 10% of progress.
      const line = `${run.status} ${Math.floor(pct / 10)}`;
      if (line !== lastLine) {
        lastLine = line;
        process.stderr.write(`run ${id}: ${run.status} ${pct}% (${run.progress.tasks_done}/${run.progress.tasks_total} tasks, ${run.totals.docs_in} docs read)\n`);
      }
    }
  }
  if (bar) {
    bar.update(run.status === "succeeded" ? 100 : Math.floor(run.progress.fraction * 100), fields(run));
    bar.stop();
  }
  if (opts.json) process.stdout.write(`${JSON.stringify(run, null, 2)}\n`);
  else await printRunSummary(run, client);
  return run;
}

function fields(run: any) {
  return {
    status: run.status.padEnd(10),
    done: run.progress.tasks_done,
    total: run.progress.tasks_total,
    bytes: `${bytes(run.progress.bytes_done)}/${bytes(run.progress.bytes_total)}`,
    docs: run.totals.docs_in,
  };
}

export async function printRunSummary(run: any, client?: Client): Promise<void> {
  const w = (s: string) => process.stdout.write(`${s}\n`);
  w(`run ${run.id}: ${run.status}${run.reused_version ? " (identical dataset version already existed; reused)" : ""}`);
  if (run.error) w(`error: ${run.error}`);
  for (const t of run.failed_tasks ?? []) w(`  task ${t.index} ${t.input}: ${t.error}`);
  if (run.steps?.length) {
    w("");
    w(funnel(run.steps));
  }
  w("");
  w(`documents: ${run.totals.docs_in} in, ${run.totals.docs_kept} kept, ${run.totals.docs_dropped} dropped; tokens kept: ${run.totals.tokens_kept}`);
  if (run.fingerprint) w(`fingerprint: ${run.fingerprint}`);
  if (run.dataset_version_id && client) {
    const v = await client.get(`/dataset-versions/${run.dataset_version_id}`);
    w(`dataset version ${v.id}: ${v.shards} shard(s) at ${v.url}`);
    w(`  manifest: ${v.url}manifest.json`);
    w(`  dropped documents: ${v.url}dropped/`);
  }
}
