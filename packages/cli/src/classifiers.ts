import type { Command } from "commander";
import type { Client } from "./client.js";
import { bytes, table } from "./format.js";

type Ctx = () => Client;
type Json = () => boolean;
const out = (v: unknown): void => void process.stdout.write(`${typeof v === "string" ? v : JSON.stringify(v, null, 2)}\n`);
const pct = (x: number | null) => (x === null ? "-" : x.toFixed(4));

/** `tokenmill classifiers train|list|get`: quality classifiers trained by the API from a labelled source. */
export function registerClassifierCommands(program: Command, client: Ctx, json: Json): void {
  const c = program.command("classifiers").description("quality classifiers (hashed word n-gram fastText models) trained from a labelled source");
  c.command("train <name>")
    .description("train a classifier on a registered source (synchronously) and print its held-out accuracy and AUC")
    .requiredOption("--source <source>", "source id or name")
    .requiredOption("--label-field <path>", "label field, a dotted path such as meta.label")
    .requiredOption("--positive <value>", "label value of the positive (high-quality) class")
    .option("--holdout <fraction>", "share of examples held out for evaluation", parseFloat)
    .option("--seed <n>", "seed of the split, the shuffle and fastText", (v) => parseInt(v, 10))
    .option("--epochs <n>", "training epochs", (v) => parseInt(v, 10))
    .option("--lr <rate>", "learning rate", parseFloat)
    .option("--dim <n>", "embedding dimension", (v) => parseInt(v, 10))
    .option("--buckets <n>", "hash buckets for word n-grams", (v) => parseInt(v, 10))
    .option("--word-ngrams <n>", "word n-grams up to this length", (v) => parseInt(v, 10))
    .action(async (name: string, o: Record<string, string | number | undefined>) => {
      const body: Record<string, unknown> = { name, source: o.source, label_field: o.labelField, positive_label: o.positive };
      const keys: [string, string][] = [["holdout", "holdout_fraction"], ["seed", "seed"], ["epochs", "epochs"], ["lr", "lr"], ["dim", "dim"], ["buckets", "buckets"], ["wordNgrams", "word_ngrams"]];
      for (const [opt, field] of keys) if (o[opt] !== undefined) body[field] = o[opt];
      const r = await client().post("/classifiers", body);
      if (json()) return out(r);
      const m = r.meta.metrics;
      out(`classifier ${r.name}@${r.version}: ${r.model_uri} (${bytes(r.meta.bytes)})`);
      out(`held-out: ${m.holdout_examples} examples, accuracy ${pct(m.accuracy)} (majority baseline ${pct(m.baseline_accuracy)}), AUC ${pct(m.auc)}; trained on ${m.train_examples}`);
    });
  c.command("list")
    .description("list classifier versions")
    .option("--name <name>", "only this classifier")
    .action(async (o: { name?: string }) => {
      const r = await client().get(`/classifiers${o.name ? `?name=${encodeURIComponent(o.name)}` : ""}`);
      json()
        ? out(r)
        : out(table(["name", "version", "created", "accuracy", "baseline", "auc", "examples"], r.items.map((m: any) => [m.name, m.version, m.created_at, pct(m.accuracy), pct(m.baseline_accuracy), pct(m.auc), m.meta.training_data.examples])));
    });
  c.command("get <ref>")
    .description("show one classifier version's meta.json (name@version, or name for the newest)")
    .action(async (ref: string) => {
      const at = ref.lastIndexOf("@");
      const [name, version] = at > 0 ? [ref.slice(0, at), ref.slice(at + 1)] : [ref, "latest"];
      out(await client().get(`/classifiers/${encodeURIComponent(name)}/${encodeURIComponent(version)}`));
    });
}
