import { num, pct } from "../format.js";
import type { LedgerRow } from "../types.js";
import { PALETTE } from "./charts.js";

/**
 * A source's colour: the chart palette first, then hues spaced by the golden angle, so 30 sources
 * still get distinct, stable colours (by position in the ledger, the same in every phase).
 */
export function sourceColor(i: number): { solid: string; light: string } {
  const p = PALETTE[i];
  if (p) return { solid: p, light: `${p}40` };
  const h = Math.round((i * 137.508) % 360);
  return { solid: `hsl(${h} 50% 40%)`, light: `hsl(${h} 50% 40% / 0.25)` };
}

/**
 * Planned vs consumed tokens as one horizontal bar per phase, stacked by source: a segment's length is
 * the source's planned tokens (bars share one scale, so phases compare), its solid fill the consumed
 * part. Plain HTML rather than canvas, so every segment is an element with its own accessible label;
 * the ledger table next to it carries the same numbers.
 */
export function StackedLedger({ ledger }: { ledger: LedgerRow[] }) {
  const sources = [...new Set(ledger.map((l) => l.source))];
  const phases = [...new Set(ledger.map((l) => l.phase))].map((name) => {
    const rows = ledger.filter((l) => l.phase === name);
    return { name, rows, planned: rows.reduce((s, l) => s + l.planned, 0), consumed: rows.reduce((s, l) => s + l.consumed, 0) };
  });
  const scale = Math.max(1, ...phases.map((p) => p.planned));
  return (
    <figure class="stacked" aria-labelledby="stacked-title">
      <figcaption id="stacked-title" class="sr-only">
        Planned vs consumed tokens per phase, stacked by source
      </figcaption>
      <ul class="legend" aria-label="Sources">
        {sources.map((s, i) => (
          <li key={s}>
            <span class="swatch" style={{ background: sourceColor(i).solid }} aria-hidden="true" />
            {s}
          </li>
        ))}
      </ul>
      {phases.map((ph) => (
        <div key={ph.name} class="stacked-row" role="group" aria-label={`Phase ${ph.name}: ${num(ph.consumed)} of ${num(ph.planned)} planned tokens consumed`}>
          <span class="stacked-phase" aria-hidden="true">
            {ph.name}
          </span>
          <div class="stacked-track">
            <div class="stacked-bar" style={{ width: `${(ph.planned / scale) * 100}%` }}>
              {ph.rows.map((l) => {
                const c = sourceColor(sources.indexOf(l.source));
                const label = `${ph.name} · ${l.source}: ${num(l.consumed)} of ${num(l.planned)} planned tokens consumed (${pct(l.fraction)})`;
                return (
                  <div key={l.source} class="seg" role="img" aria-label={label} title={label} data-source={l.source} data-consumed={l.consumed} data-planned={l.planned} style={{ flexGrow: l.planned, background: c.light, borderColor: c.solid }}>
                    <div class="seg-fill" style={{ width: `${Math.min(1, l.planned ? l.consumed / l.planned : 0) * 100}%`, background: c.solid }} />
                  </div>
                );
              })}
            </div>
          </div>
          <span class="stacked-total" aria-hidden="true">
            {pct(ph.planned ? ph.consumed / ph.planned : 0)}
          </span>
        </div>
      ))}
    </figure>
  );
}
