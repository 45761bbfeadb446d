import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { Command } from "commander";
import { DEFAULT_PIPELINE, parsePipelineText } from "@tokenmill/domain";
import { funnel } from "./format.js";
import { group } from "./remote.js";

/**
 * `tokenmill curate local`: the same step code as the workers, in this process, without Redis or
 * PostgreSQL. --out becomes one dataset version's folder: what datasets/<name>/<fingerprint>/ holds
 * in a store (shards, manifest.json, stats.json, dropped/), without those two levels, so a local
 * result opens like any version's folder and the trainer reads it as a dataset uri.
 */
export function registerLocalCommands(program: Command, json: () => boolean): void {
  const curate = group(program, "curate", "curation runs: a pipeline over a source into a dataset version");
  curate
    .command("local")
    .description("run a pipeline over local JSONL / JSONL.gz files into a folder")
    .option("--pipeline <file>", "pipeline file (YAML or JSON); default: normalize → length → tokenize")
    .requiredOption("--input <path...>", "input file(s), folder(s) or glob(s)")
    .requiredOption("--out <dir>", "output folder: becomes one dataset version's folder (shards, manifest.json, stats.json, dropped/)")
    .option("--source <name>", "source name recorded in provenance", "local")
    .action(async (o: { pipeline?: string; input: string[]; out: string; source: string }) => {
      const { curateLocal } = await import("@tokenmill/curation");
      const spec = o.pipeline ? parsePipelineText(readFileSync(o.pipeline, "utf8"), o.pipeline) : DEFAULT_PIPELINE;
      const outDir = resolve(o.out);
      let last = 0;
      const { manifest, stats } = await curateLocal({
        spec,
        inputs: o.input,
        outDir,
        sourceName: o.source,
        onProgress: (p) => {
          if (json() || Date.now() - last < 500) return;
          last = Date.now();
          const line = `file ${p.task_index + 1}/${p.tasks_total}: ${p.docs_in} docs read, ${p.docs_kept} kept`;
          process.stderr.write(`\r${line.padEnd(60)}`);
        },
      });
      if (!json() && last > 0) process.stderr.write("\n");
      if (json()) {
        process.stdout.write(`${JSON.stringify({ out: outDir, manifest, stats }, null, 2)}\n`);
        return;
      }
      process.stdout.write(`${funnel(stats.steps)}\n\n`);
      process.stdout.write(`documents: ${stats.docs_in} in, ${stats.docs_kept} kept; tokens kept: ${stats.tokens_kept}\n`);
      process.stdout.write(`fingerprint: ${manifest.fingerprint}\n${manifest.shards.length} shard(s) in ${outDir}, a dataset version's folder (manifest.json, stats.json, dropped/)\n`);
    });
}
