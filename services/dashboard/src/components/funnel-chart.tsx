import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import type { StepView } from "../types.js";
import { num } from "../format.js";

const compact = new Intl.NumberFormat("en", { notation: "compact" });

/**
 * Documents in and out per step as grouped bars (uPlot), and the documents each step dropped as
 * markers on their own scale (right axis): beside 410 documents in, 3 dropped would not show on the
 * bars' scale. The table beside it carries the same figures for screen readers, so the canvas is one
 * labelled image.
 */
export function FunnelChart({ steps }: { steps: StepView[] }) {
  const host = useRef<HTMLDivElement>(null);
  const key = JSON.stringify(steps.map((s) => [s.step, s.docs_in, s.docs_out]));
  const dropped = steps.map((s) => s.docs_in - s.docs_out);
  useEffect(() => {
    const el = host.current;
    if (!el || steps.length === 0) return;
    const names = steps.map((s) => s.step);
    const x = steps.map((_, i) => i);
    const bars = (align: -1 | 1) => uPlot.paths.bars!({ size: [0.35, 64], align });
    const plot = new uPlot(
      {
        width: Math.max(320, el.clientWidth),
        height: 240,
        legend: { show: true, live: false },
        cursor: { show: false },
        scales: {
          x: { time: false, range: [-0.6, steps.length - 0.4] },
          y: { range: (_u, _min, max) => [0, Math.max(1, max) * 1.05] },
          drops: { range: (_u, _min, max) => [0, Math.max(1, max) * 1.15] },
        },
        axes: [
          { splits: () => x, values: (_u, splits) => splits.map((i) => names[i] ?? ""), grid: { show: false } },
          { values: (_u, vals) => vals.map((v) => compact.format(v)), size: 56 },
          // Whole documents only: no 0.5 ticks when a step drops one or two.
          { scale: "drops", side: 1, label: "dropped", labelSize: 18, grid: { show: false }, incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 1e5, 1e6, 1e7, 1e8], values: (_u, vals) => vals.map((v) => compact.format(v)), size: 56 },
        ],
        series: [
          {},
          { label: "docs in", fill: "rgba(59,111,182,0.35)", stroke: "#3b6fb6", width: 1, paths: bars(-1), points: { show: false } },
          { label: "docs out", fill: "rgba(31,122,76,0.55)", stroke: "#1f7a4c", width: 1, paths: bars(1), points: { show: false } },
          { label: "dropped (right axis)", scale: "drops", stroke: "#b6543b", width: 0, paths: () => null, points: { show: true, size: 11, width: 2, stroke: "#b6543b", fill: "#b6543b" } },
        ],
      },
      [x, steps.map((s) => s.docs_in), steps.map((s) => s.docs_out), dropped],
      el,
    );
    const ro = new ResizeObserver(() => plot.setSize({ width: Math.max(320, el.clientWidth), height: 240 }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      plot.destroy();
    };
  }, [key]);
  const summary = steps.map((s, i) => `${s.step}: ${num(s.docs_in)} in, ${num(s.docs_out)} out, ${num(dropped[i]!)} dropped`).join("; ");
  return <div class="chart" ref={host} role="img" aria-label={`Documents in and out per step, drops on their own scale. ${summary}`} />;
}
