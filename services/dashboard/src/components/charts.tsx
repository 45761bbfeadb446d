import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";

const compact = new Intl.NumberFormat("en", { notation: "compact", maximumFractionDigits: 2 });
export const PALETTE = ["#3b6fb6", "#1f7a4c", "#b6543b", "#7a4cb6", "#b69a3b"];
/** The burn-down's "on schedule" line: a colour no other series uses. */
export const SCHEDULE = "#e8590c";

export interface LineSeries {
  label: string;
  values: (number | null)[];
  stroke: string;
  dash?: number[];
  width?: number;
}

/** Tick steps for a count (training steps, documents): whole numbers only, never 1.5. */
export const WHOLE_INCRS = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1e3, 2e3, 2500, 5e3, 1e4, 2e4, 5e4, 1e5, 2e5, 5e5, 1e6, 2e6, 5e6, 1e7, 1e8, 1e9];

/**
 * Lines over a numeric x (steps). The plot is built once per set of series and then fed with
 * setData, so live updates redraw without rebuilding the canvas. `summary` is the accessible text.
 */
export function LineChart({ x, series, summary, height = 220, yLabel }: { x: number[]; series: LineSeries[]; summary: string; height?: number; yLabel?: string }) {
  const host = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const shape = series.map((s) => s.label).join("|");
  const data = (): uPlot.AlignedData => [x, ...series.map((s) => s.values)] as uPlot.AlignedData;
  useEffect(() => {
    const el = host.current;
    if (!el) return;
    const p = new uPlot(
      {
        width: Math.max(320, el.clientWidth),
        height,
        legend: { show: true, live: false },
        cursor: { show: false },
        scales: { x: { time: false } },
        axes: [
          {
            label: "step",
            labelSize: 18,
            incrs: WHOLE_INCRS,
            // The ticks drawn, kept on the element: the canvas has no text a reader or a test can see.
            values: (_u, splits) => ((el.dataset.xTicks = splits.join(" ")), splits.map((v) => compact.format(v))),
          },
          { values: (_u, vals) => vals.map((v) => compact.format(v)), size: 60, ...(yLabel ? { label: yLabel, labelSize: 18 } : {}) }],
        series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.stroke, width: s.width ?? 1.5, dash: s.dash, spanGaps: true, points: { show: false } }))],
      },
      data(),
      el,
    );
    plot.current = p;
    const ro = new ResizeObserver(() => p.setSize({ width: Math.max(320, el.clientWidth), height }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      p.destroy();
      plot.current = null;
    };
  }, [shape]);
  useEffect(() => {
    plot.current?.setData(data());
  });
  return <div class="chart" ref={host} role="img" aria-label={summary} />;
}

/** Two grouped bars per category (uPlot), updated in place with setData. */
export function BarChart({ categories, series, summary, height = 260 }: { categories: string[]; series: { label: string; values: number[]; fill: string; stroke: string }[]; summary: string; height?: number }) {
  const host = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const shape = categories.join("|") + "#" + series.map((s) => s.label).join("|");
  const x = categories.map((_, i) => i);
  const data = (): uPlot.AlignedData => [x, ...series.map((s) => s.values)] as uPlot.AlignedData;
  useEffect(() => {
    const el = host.current;
    if (!el || categories.length === 0) return;
    // Two series side by side (left and right of the category), more would overlap.
    const bars = (i: number) => uPlot.paths.bars!({ size: [0.35, 48], align: i === 0 ? -1 : 1 });
    const p = new uPlot(
      {
        width: Math.max(320, el.clientWidth),
        height,
        legend: { show: true, live: false },
        cursor: { show: false },
        scales: { x: { time: false, range: [-0.6, categories.length - 0.4] }, y: { range: (_u, _min, max) => [0, Math.max(1, max) * 1.05] } },
        axes: [
          { splits: () => x, values: (_u, splits) => splits.map((i) => categories[i] ?? ""), grid: { show: false }, rotate: categories.length > 8 ? -45 : 0, size: categories.length > 8 ? 90 : 40 },
          { values: (_u, vals) => vals.map((v) => compact.format(v)), size: 60 },
        ],
        series: [{}, ...series.map((s, i) => ({ label: s.label, fill: s.fill, stroke: s.stroke, width: 1, paths: bars(i), points: { show: false } }))],
      },
      data(),
      el,
    );
    plot.current = p;
    const ro = new ResizeObserver(() => p.setSize({ width: Math.max(320, el.clientWidth), height }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      p.destroy();
      plot.current = null;
    };
  }, [shape]);
  useEffect(() => {
    plot.current?.setData(data());
  });
  return <div class="chart" ref={host} role="img" aria-label={summary} />;
}
