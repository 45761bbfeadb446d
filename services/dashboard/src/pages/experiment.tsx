import { useEffect, useMemo, useState } from "preact/hooks";
import { api, follow, qs } from "../api.js";
import { CancelRun, ErrorNote, Heading, Progress, Status, useLoad } from "../components/common.js";
import { BarChart, LineChart, PALETTE, SCHEDULE, type LineSeries } from "../components/charts.js";
import { StackedLedger } from "../components/stacked-ledger.js";
import { duration, num, pct, short, when, TERMINAL } from "../format.js";
import { href, navigate } from "../router.js";
import type { BudgetRow, LedgerRow, MixtureView, Page, PlanLite, ProgressHistory, ProgressPoint, TrainingRunView } from "../types.js";
import type { ExperimentView } from "./experiments.js";
import { RecipeCompare } from "./recipe-compare.js";

type ExperimentBudgetRow = BudgetRow & { stage: string; mixture_id: string };
/** Share of a source's max_epochs cap at which the page warns. */
const EPOCH_WARN = 0.9;
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

/**
 * One experiment: its runs (history with attempts, retries, failures, preemptions) and, for the
 * selected run (?run=, default the newest), the ledger (planned vs consumed per phase and source),
 * burn-down, implied epochs against max_epochs, throughput and loss — live over SSE while it runs.
 */
export function ExperimentPage({ id, query, canWrite }: { id: string; query: URLSearchParams; canWrite: boolean }) {
  const exp = useLoad(() => api<ExperimentView>(`/experiments/${id}`), [id]);
  const runs = useLoad(() => api<Page<TrainingRunView>>(`/runs${qs({ experiment: id, limit: 50 })}`), [id], 5000);
  const e = exp.data;
  const selected = query.get("run") ?? runs.data?.items[0]?.id ?? null;
  return (
    <section>
      <p class="crumbs">
        <a href="#/experiments">Experiments</a> / {e?.name ?? short(id)}
      </p>
      <Heading>{e ? e.name : "Experiment"}</Heading>
      <ErrorNote error={exp.error ?? runs.error} />
      {e && (
        <p>
          Stages:{" "}
          {e.mixtures.map((m, i) => (
            <span key={m.mixture_id}>
              {i > 0 && ", "}
              <a href={href("/mixtures", { a: m.mixture_id })}>{m.stage}</a>
            </span>
          ))}
        </p>
      )}
      {runs.data && runs.data.items.length === 0 && <PlannedOnly id={id} />}
      {selected && <RunPanel key={selected} experimentId={id} runId={selected} initial={runs.data?.items.find((r) => r.id === selected)} canWrite={canWrite} onChange={runs.reload} />}
      {runs.data && runs.data.items.length > 0 && <RunHistory experimentId={id} runs={runs.data.items} selected={selected} />}
      {e && <RecipeCompare experiment={e} vs={query.get("vs") ?? ""} onPick={(vs) => navigate(href(`/experiments/${id}`, { run: query.get("run") ?? undefined, vs }))} />}
    </section>
  );
}

/** Before any run: the planned budget, as the recipe resolved it. */
function PlannedOnly({ id }: { id: string }) {
  const budget = useLoad(() => api<ExperimentBudgetRow[]>(`/experiments/${id}/budget`), [id]);
  return (
    <>
      <h2>Planned token budget</h2>
      <ErrorNote error={budget.error} />
      {budget.data && (
        <table class="grid">
          <caption class="sr-only">Planned tokens per stage, phase and source</caption>
          <thead>
            <tr>
              <th scope="col">Stage</th>
              <th scope="col">Phase</th>
              <th scope="col">Source</th>
              <th scope="col" class="num">Planned tokens</th>
              <th scope="col" class="num">Share</th>
              <th scope="col" class="num">Available</th>
              <th scope="col" class="num">Epochs</th>
            </tr>
          </thead>
          <tbody>
            {budget.data.map((r) => (
              <tr key={`${r.stage}/${r.phase}/${r.source}`}>
                <td>{r.stage}</td>
                <td>{r.phase}</td>
                <th scope="row">{r.source}</th>
                <td class="num">{num(r.tokens)}</td>
                <td class="num">{(r.share * 100).toFixed(2)}%</td>
                <td class="num">{num(r.available_tokens)}</td>
                <td class="num">{r.epochs === null ? "–" : r.epochs.toFixed(2)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <p class="note">No training runs yet: launch one (<code>tokenmill runs launch {short(id)}…</code> or <code>POST /experiments/{"{id}"}/runs</code>) and its consumed tokens, burn-down, throughput and loss appear here live.</p>
    </>
  );
}

const pointOf = (r: TrainingRunView): ProgressPoint => ({
  step: r.progress.step,
  loss: r.progress.loss,
  lr: r.progress.lr,
  tokens_per_s: r.progress.tokens_per_s,
  mfu: r.progress.mfu,
  tokens_consumed: sum(Object.values(r.progress.tokens_consumed)),
  reports: 1,
});

function RunPanel({ experimentId, runId, initial, canWrite, onChange }: { experimentId: string; runId: string; initial?: TrainingRunView; canWrite: boolean; onChange: () => void }) {
  const [run, setRun] = useState<TrainingRunView | null>(initial ?? null);
  const [ledger, setLedger] = useState<LedgerRow[] | null>(null);
  const [history, setHistory] = useState<ProgressHistory | null>(null);
  const [plan, setPlan] = useState<PlanLite | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [live, setLive] = useState<"connecting" | "live" | "ended" | "error">("connecting");

  const loadHistory = () => api<ProgressHistory>(`/runs/${runId}/progress?max_points=500`).then(setHistory, setError);
  useEffect(() => {
    let alive = true;
    // The runs list already carries the run's view: no extra round trip before the ledger and plan.
    (initial ? Promise.resolve(initial) : api<TrainingRunView>(`/runs/${runId}`)).then(async (r) => {
      if (!alive) return;
      setRun((cur) => cur ?? r);
      const [l, m] = await Promise.all([api<LedgerRow[]>(`/experiments/${experimentId}/ledger${qs({ stage: r.stage })}`), api<MixtureView>(`/mixtures/${r.mixture_id}`)]);
      if (!alive) return;
      setLedger((cur) => cur ?? l);
      setPlan(m.plan as PlanLite);
    }, setError);
    void loadHistory();
    return () => void (alive = false);
  }, [runId]);

  // Live: each event carries the run and its stage's ledger; the newest report extends the history.
  useEffect(
    () =>
      follow(
        `/events/runs/${runId}`,
        {
          run: (d) => {
            const { run: r, ledger: l } = d as { run: TrainingRunView; ledger: LedgerRow[] };
            setRun((prev) => {
              if (prev && prev.status !== r.status) onChange();
              return r;
            });
            setLedger(l);
            setHistory((h) => {
              if (!h || r.progress.step === 0) return h;
              const last = h.points.at(-1);
              if (last && last.step >= r.progress.step) return h;
              return { ...h, reports: h.reports + 1, points: [...h.points, pointOf(r)] };
            });
            if (TERMINAL.includes(r.status)) void loadHistory(); // the exact, downsampled history once it ends
          },
        },
        setLive,
      ),
    [runId],
  );

  const cancel = async () => {
    try {
      setRun(await api<TrainingRunView>(`/runs/${runId}/cancel`, { method: "POST" }));
      onChange();
    } catch (e) {
      setError(e);
    }
  };

  if (!run) return <ErrorNote error={error} />;
  const ended = TERMINAL.includes(run.status);
  const p = run.progress;
  return (
    <>
      <h2 id="run-title">
        Run <code>{short(run.id)}</code> · stage {run.stage} <Status status={run.status} />
      </h2>
      <p class="live" aria-live="polite">
        {ended ? `Finished${run.finished_at ? ` ${when(run.finished_at)}` : ""}.` : live === "live" ? "● Live" : live === "error" ? "Reconnecting…" : "Connecting…"}
      </p>
      <ErrorNote error={error} />
      {run.reason && <p class="note">{run.reason}</p>}
      {canWrite && !ended && <CancelRun question="Cancel this training run? The trainer is stopped; tokens consumed so far stay in the ledger." onConfirm={cancel} />}
      <div class="cards">
        <Card label="Step" value={`${num(p.step)}${p.total_steps ? ` / ${num(p.total_steps)}` : ""}`} />
        <Card label="Tokens consumed" value={`${num(sum(Object.values(p.tokens_consumed)))} / ${num(p.tokens_planned)}`} />
        <Card label="ETA" value={ended ? "–" : duration(p.eta_s)} />
        <Card label="Tokens/s" value={p.tokens_per_s === null ? "–" : num(Math.round(p.tokens_per_s))} />
        <Card label="Loss" value={p.loss === null ? "–" : p.loss.toFixed(3)} />
        <Card label="Attempt" value={`${run.attempt} (${run.failures} failed, ${run.preemptions} preempted)`} />
      </div>
      <div class="progress-row">
        <Progress fraction={p.fraction} label="Training progress" />
        <span>{pct(p.fraction)}</span>
      </div>

      <h2>Planned vs consumed tokens</h2>
      {ledger && ledger.length > 0 ? <LedgerView ledger={ledger} /> : <p class="note">No ledger rows yet.</p>}

      <h2>Burn-down</h2>
      {history && <BurnDown history={history} totalSteps={p.total_steps} planned={p.tokens_planned} />}

      <h2>Implied epochs per source</h2>
      {plan && ledger ? <Epochs plan={plan} ledger={ledger} /> : <p class="note">Loading the plan…</p>}

      <h2>Throughput and loss</h2>
      {history && history.points.length > 0 ? (
        <>
          <LineChart
            x={history.points.map((q) => q.step)}
            series={[{ label: "tokens/s", values: history.points.map((q) => q.tokens_per_s), stroke: PALETTE[0]! }]}
            summary={`Throughput over steps, ${history.points.length} points; latest ${num(Math.round(history.points.at(-1)!.tokens_per_s ?? 0))} tokens/s`}
            yLabel="tokens/s"
          />
          <LineChart
            x={history.points.map((q) => q.step)}
            series={[{ label: "loss", values: history.points.map((q) => q.loss), stroke: PALETTE[2]! }]}
            summary={`Loss over steps, ${history.points.length} points; latest ${history.points.at(-1)!.loss?.toFixed(3) ?? "–"}`}
            yLabel="loss"
          />
          {history.bucket > 1 && <p class="note">{num(history.reports)} reports shown as {num(history.points.length)} points (means of {history.bucket} consecutive reports).</p>}
        </>
      ) : (
        <p class="note">No progress reports yet.</p>
      )}

      <h2>Events of this run</h2>
      <table class="grid">
        <caption class="sr-only">Lifecycle events of the run with reasons</caption>
        <thead>
          <tr>
            <th scope="col">When</th>
            <th scope="col">Status</th>
            <th scope="col">Kind</th>
            <th scope="col">Reason</th>
          </tr>
        </thead>
        <tbody>
          {run.events.map((ev, i) => (
            <tr key={i}>
              <td>{when(ev.at)}</td>
              <td>
                <Status status={ev.status} />
              </td>
              <td>{eventKind(ev.status, ev.reason)}</td>
              <td>{ev.reason ?? "–"}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

/** Classifies a lifecycle event for the history: retries, failures and preemptions stand out. */
function eventKind(status: string, reason: string | null): string {
  const r = (reason ?? "").toLowerCase();
  if (r.includes("preempt") || r.includes("node lost") || r.includes("killed by signal")) return status === "failed" ? "preemption (budget spent)" : "preemption";
  if (r.startsWith("retrying")) return "retry";
  if (status === "failed") return "failure";
  if (status === "cancelled") return "cancelled";
  if (status === "queued") return "launch";
  return "";
}

type LedgerChart = "grouped" | "stacked";
const CHART_KEY = "tokenmill.ledger-chart";
/** The chosen ledger chart, kept for the tab (sessionStorage) so it survives navigation between runs. */
const savedChart = (): LedgerChart => (sessionStorage.getItem(CHART_KEY) === "stacked" ? "stacked" : "grouped");

function LedgerView({ ledger }: { ledger: LedgerRow[] }) {
  const [chart, setChart] = useState<LedgerChart>(savedChart);
  const choose = (c: LedgerChart) => {
    sessionStorage.setItem(CHART_KEY, c);
    setChart(c);
  };
  const cats = ledger.map((l) => `${l.phase} · ${l.source}`);
  const planned = sum(ledger.map((l) => l.planned));
  const consumed = sum(ledger.map((l) => l.consumed));
  return (
    <>
      {/* Native radios: labelled, one tab stop, arrow keys switch the chart. */}
      <fieldset class="toggle">
        <legend>Chart</legend>
        <label>
          <input type="radio" name="ledger-chart" value="grouped" checked={chart === "grouped"} onChange={() => choose("grouped")} /> Grouped: a bar pair per phase and source
        </label>
        <label>
          <input type="radio" name="ledger-chart" value="stacked" checked={chart === "stacked"} onChange={() => choose("stacked")} /> Stacked: a bar per phase, by source
        </label>
      </fieldset>
      {chart === "stacked" ? (
        <StackedLedger ledger={ledger} />
      ) : (
        <BarChart
          categories={cats}
          series={[
            { label: "planned", values: ledger.map((l) => l.planned), fill: "rgba(59,111,182,0.30)", stroke: "#3b6fb6" },
            { label: "consumed", values: ledger.map((l) => l.consumed), fill: "rgba(31,122,76,0.60)", stroke: "#1f7a4c" },
          ]}
          summary={`Planned vs consumed tokens per phase and source: ${num(consumed)} of ${num(planned)} consumed`}
        />
      )}
      <table class="grid">
        <caption class="sr-only">Token ledger: planned and consumed tokens per phase and source</caption>
        <thead>
          <tr>
            <th scope="col">Phase</th>
            <th scope="col">Source</th>
            <th scope="col" class="num">Planned</th>
            <th scope="col" class="num">Consumed</th>
            <th scope="col" class="num">Remaining</th>
            <th scope="col">Consumed share</th>
          </tr>
        </thead>
        <tbody>
          {ledger.map((l) => (
            <tr key={`${l.phase}/${l.source}`} data-consumed={l.consumed} data-planned={l.planned}>
              <td>{l.phase}</td>
              <th scope="row">{l.source}</th>
              <td class="num">{num(l.planned)}</td>
              <td class="num">{num(l.consumed)}</td>
              <td class="num">{num(l.remaining)}</td>
              <td>
                <progress class="bar" max={l.planned || 1} value={l.consumed} aria-label={`consumed ${l.phase} ${l.source}`} /> {pct(l.fraction)}
              </td>
            </tr>
          ))}
          <tr class="total" data-consumed={consumed} data-planned={planned}>
            <th scope="row" colSpan={2}>
              total
            </th>
            <td class="num">{num(planned)}</td>
            <td class="num">{num(consumed)}</td>
            <td class="num">{num(planned - consumed)}</td>
            <td>
              <progress class="bar" max={planned || 1} value={consumed} aria-label="consumed total" /> {pct(planned ? consumed / planned : 1)}
            </td>
          </tr>
        </tbody>
      </table>
    </>
  );
}

/** Remaining planned tokens vs step, with the straight line a run on schedule would follow. */
function BurnDown({ history, totalSteps, planned }: { history: ProgressHistory; totalSteps: number | null; planned: number }) {
  const pts = history.points;
  if (pts.length === 0) return <p class="note">No progress reports yet.</p>;
  const x = [0, ...pts.map((q) => q.step)];
  const remaining = [planned, ...pts.map((q) => Math.max(0, planned - q.tokens_consumed))];
  // A run on schedule reports exactly the schedule, so the two lines coincide: the reported one is
  // drawn wide underneath and the schedule dashed in another colour on top, so both stay visible.
  const series: LineSeries[] = [{ label: "remaining (reported)", values: remaining, stroke: PALETTE[0]!, width: 4 }];
  if (totalSteps) series.push({ label: "on schedule", values: x.map((s) => Math.max(0, planned * (1 - s / totalSteps))), stroke: SCHEDULE, dash: [6, 4], width: 2 });
  return <LineChart x={x} series={series} summary={`Burn-down: ${num(remaining.at(-1)!)} of ${num(planned)} planned tokens remain at step ${num(x.at(-1)!)}`} yLabel="tokens" />;
}

/**
 * Epochs per source over the stage's phases: as planned (cumulative over phases) and as implied by
 * the consumed tokens so far, against the mixture's max_epochs cap; ≥ 90% of the cap is flagged.
 */
function Epochs({ plan, ledger }: { plan: PlanLite; ledger: LedgerRow[] }) {
  const rows = useMemo(() => {
    const out = new Map<string, { source: string; cap: number; planned: number | null; consumed: number | null }>();
    for (const ph of plan.phases) {
      for (const c of ph.components) {
        const cur = out.get(c.name) ?? { source: c.name, cap: c.max_epochs, planned: null, consumed: null };
        const passTokens = c.epochs ? c.tokens / c.epochs : null; // tokens per packed pass over the source
        const used = ledger.find((l) => l.phase === ph.name && l.source === c.name)?.consumed ?? 0;
        if (c.cumulative_epochs !== null) cur.planned = Math.max(cur.planned ?? 0, c.cumulative_epochs);
        if (passTokens) cur.consumed = (cur.consumed ?? 0) + used / passTokens;
        cur.cap = Math.min(cur.cap, c.max_epochs);
        out.set(c.name, cur);
      }
    }
    return [...out.values()];
  }, [plan, ledger]);
  return (
    <table class="grid">
      <caption class="sr-only">Implied epochs per source against the max_epochs cap</caption>
      <thead>
        <tr>
          <th scope="col">Source</th>
          <th scope="col" class="num">Planned epochs</th>
          <th scope="col" class="num">Consumed epochs</th>
          <th scope="col" class="num">max_epochs</th>
          <th scope="col">Cap</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => {
          const near = (r.planned ?? 0) >= EPOCH_WARN * r.cap || (r.consumed ?? 0) >= EPOCH_WARN * r.cap;
          return (
            <tr key={r.source} class={near ? "warn" : undefined}>
              <th scope="row">{r.source}</th>
              <td class="num">{r.planned === null ? "–" : r.planned.toFixed(2)}</td>
              <td class="num">{r.consumed === null ? "–" : r.consumed.toFixed(2)}</td>
              <td class="num">{num(r.cap)}</td>
              <td>{near ? <strong class="warning">⚠ near the cap ({pct(Math.max(r.planned ?? 0, r.consumed ?? 0) / r.cap)} of max_epochs)</strong> : `${pct((r.planned ?? 0) / r.cap)} of cap`}</td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

function RunHistory({ experimentId, runs, selected }: { experimentId: string; runs: TrainingRunView[]; selected: string | null }) {
  return (
    <>
      <h2>Run history</h2>
      <table class="grid">
        <caption class="sr-only">Training runs of this experiment, newest first</caption>
        <thead>
          <tr>
            <th scope="col">Run</th>
            <th scope="col">Stage</th>
            <th scope="col">Status</th>
            <th scope="col" class="num">Attempts</th>
            <th scope="col" class="num">Retries</th>
            <th scope="col" class="num">Failures</th>
            <th scope="col" class="num">Preemptions</th>
            <th scope="col">Progress</th>
            <th scope="col">Created</th>
            <th scope="col">Reason</th>
          </tr>
        </thead>
        <tbody>
          {runs.map((r) => (
            <tr key={r.id} aria-current={r.id === selected ? "true" : undefined}>
              <td>
                <a href={href(`/experiments/${experimentId}`, { run: r.id })}>
                  <code>{short(r.id)}</code>
                </a>
              </td>
              <td>{r.stage}</td>
              <td>
                <Status status={r.status} />
              </td>
              <td class="num">{r.attempt}</td>
              <td class="num">{Math.max(0, r.attempt - 1)}</td>
              <td class="num">{r.failures}</td>
              <td class="num">{r.preemptions}</td>
              <td>{pct(r.progress.fraction)}</td>
              <td>{when(r.created_at)}</td>
              <td>{r.reason ?? "–"}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

function Card({ label, value }: { label: string; value: string }) {
  return (
    <div class="card">
      <div class="card-label">{label}</div>
      <div class="card-value">{value}</div>
    </div>
  );
}
