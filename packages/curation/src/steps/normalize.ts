import type { StepConfig } from "@tokenmill/domain";
import type { Step } from "./step.js";

type Form = "NFC" | "NFKC" | "NFD" | "NFKD";

/** Unicode normalization and whitespace clean-up; never drops a document. */
export function createNormalizeStep(config: StepConfig): Step {
  const form = config.form as Form;
  const strip = config.strip as boolean;
  const collapse = config.collapse_blank_lines as boolean;
  return {
    name: "normalize",
    async processBatch(docs) {
      for (const doc of docs) doc.text = normalizeText(doc.text, form, strip, collapse);
      return { kept: docs, dropped: [] };
    },
  };
}

export function normalizeText(text: string, form: Form, strip: boolean, collapseBlankLines: boolean): string {
  let t = text.normalize(form);
  // Three or more newlines (with only horizontal whitespace between) become one blank line.
  if (collapseBlankLines) t = t.replace(/\n(?:[ \t\r\f\v]*\n){2,}/g, "\n\n");
  if (strip) t = t.trim();
  return t;
}
