import type { MixturePlan, PlanComponent } from "./plan.js";

/** Share of max_epochs from which a source is flagged: high from half the cap, near the cap at 90% (as the dashboard). */
export const EPOCHS_HIGH = 0.5;
export const EPOCHS_NEAR = 0.9;

/**
 * How close a component's implied epochs (counting earlier phases) come to its max_epochs: "" below
 * half the cap, "high 75% of max" from half, "NEAR MAX 94% of max" from 90%. Unknown sizes: "".
 */
export function epochsFlag(c: PlanComponent): string {
  if (c.cumulative_epochs === null) return "";
  const f = c.cumulative_epochs / c.max_epochs;
  if (f >= EPOCHS_NEAR) return `NEAR MAX ${Math.round(f * 100)}% of max`;
  if (f >= EPOCHS_HIGH) return `high ${Math.round(f * 100)}% of max`;
  return "";
}

/**
 * Human-readable rows for `table()`: what was asked (w = weight, r = repeat, t = tokens), the
 * realized share in percent, epochs in this phase and cumulated over the mixture's phases, the
 * source's max_epochs and the flag above.
 */
export function budgetTableRows(plan: MixturePlan): (string | number)[][] {
  const asked = (f: PlanComponent["form"]) => ("weight" in f ? `w ${f.weight}` : "repeat" in f ? `r ${f.repeat}` : `t ${fmt(f.tokens)}`);
  const ep = (e: number | null) => (e === null ? "-" : e.toFixed(2));
  return plan.phases.flatMap((p) =>
    p.components.map((c) => [p.name, c.name, asked(c.form), c.tokens, `${(c.share * 100).toFixed(2)}%`, c.available_tokens ?? "unknown", ep(c.epochs), ep(c.cumulative_epochs), c.max_epochs, epochsFlag(c)]),
  );
}
export const BUDGET_HEADERS = ["phase", "source", "asked", "tokens", "share", "available", "epochs", "total epochs", "max epochs", "flag"];

const fmt = (n: number) => n.toLocaleString("en-US");
