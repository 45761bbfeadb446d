import { useEffect, useState } from "preact/hooks";
import { api, follow } from "../api.js";
import { CancelRun, ErrorNote, Heading, Progress, Status } from "../components/common.js";
import { FunnelChart } from "../components/funnel-chart.js";
import { bytes, num, pct, short, when, TERMINAL } from "../format.js";
import { href } from "../router.js";
import type { RunView } from "../types.js";

/** One run: live over SSE until it ends; the funnel per step with links into the dropped documents. */
export function RunPage({ id, canWrite }: { id: string; canWrite: boolean }) {
  const [run, setRun] = useState<RunView | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [live, setLive] = useState<"connecting" | "live" | "ended" | "error">("connecting");

  useEffect(() => follow(`/events/curation-runs/${id}`, { run: (d) => setRun(d as RunView) }, setLive), [id]);
  useEffect(() => {
    // The first paint does not wait for the stream; a run that is missing shows its 404 here.
    api<RunView>(`/curation-runs/${id}`).then((r) => setRun((cur) => cur ?? r), setError);
  }, [id]);

  const cancel = async () => {
    try {
      setRun(await api<RunView>(`/curation-runs/${id}/cancel`, { method: "POST" }));
    } catch (e) {
      setError(e);
    }
  };

  if (!run) return <ErrorNote error={error} />;
  const ended = TERMINAL.includes(run.status);
  const mostDropped = Math.max(0, ...run.steps.map((s) => s.docs_in - s.docs_out));
  return (
    <section aria-labelledby="run-title">
      <p class="crumbs">
        <a href="#/runs">Curation runs</a> / <code>{short(run.id)}</code>
      </p>
      <Heading>
        <span id="run-title">
          Run <code>{short(run.id)}</code> · {run.dataset_name}
        </span>{" "}
        <Status status={run.status} />
      </Heading>
      <p class="live" aria-live="polite">
        {ended ? "Finished." : live === "live" ? "● Live" : live === "error" ? "Reconnecting…" : "Connecting…"}
      </p>
      <ErrorNote error={error} />
      {canWrite && !ended && <CancelRun question="Cancel this run? Nothing will be published." onConfirm={cancel} />}
      <div class="cards">
        <Card label="Documents in" value={num(run.totals.docs_in)} />
        <Card label="Kept" value={num(run.totals.docs_kept)} />
        <Card label="Dropped" value={num(run.totals.docs_dropped)} />
        <Card label="Tokens kept" value={num(run.totals.tokens_kept)} />
      </div>
      <div class="progress-row">
        <Progress fraction={run.progress.fraction} label="Run progress" />
        {run.reused_version ? (
          // A reused version ran no task: "tasks 0/0 · 0 B of 1.1 MB" would read as a run that did nothing.
          <span>{pct(run.progress.fraction)} · an identical dataset version already existed, so no document was processed again</span>
        ) : (
          <span>
            {pct(run.progress.fraction)} · tasks {run.progress.tasks_done}/{run.progress.tasks_total} · {bytes(run.progress.bytes_done)} of {bytes(run.progress.bytes_total)}
          </span>
        )}
      </div>
      {run.error && <p class="note">{run.error}</p>}

      <h2>Funnel</h2>
      {run.steps.length === 0 ? (
        <p>No step figures yet: they appear as tasks finish.</p>
      ) : (
        <>
          <FunnelChart steps={run.steps} />
          <table class="grid">
            <caption class="sr-only">Documents per step, dropped by reason</caption>
            <thead>
              <tr>
                <th scope="col">Step</th>
                <th scope="col" class="num">Docs in</th>
                <th scope="col" class="num">Docs out</th>
                <th scope="col" class="num">Dropped</th>
                <th scope="col">Dropped by reason</th>
                <th scope="col">Counters</th>
              </tr>
            </thead>
            <tbody>
              {run.steps.map((s) => {
                const dropped = s.docs_in - s.docs_out;
                const reasons = Object.entries(s.dropped).filter(([, n]) => n > 0);
                return (
                  <tr key={s.step}>
                    <th scope="row">{s.step}</th>
                    <td class="num">{num(s.docs_in)}</td>
                    <td class="num">{num(s.docs_out)}</td>
                    <td class="num">
                      <DropBar dropped={dropped} most={mostDropped} step={s.step} />
                    </td>
                    <td>
                      {reasons.length === 0
                        ? "–"
                        : reasons.map(([r, n]) => (
                            <a key={r} class="reason" href={href(`/runs/${run.id}/dropped`, { reason: r })}>
                              {r} <span class="count">{num(n)}</span>
                            </a>
                          ))}
                    </td>
                    <td>
                      {Object.entries(s.counters ?? {}).length === 0
                        ? "–"
                        : Object.entries(s.counters ?? {}).map(([c, n]) => (
                            <span key={c} class="reason">
                              {c} <span class="count">{num(n)}</span>
                            </span>
                          ))}
                    </td>
                  </tr>
                );
              })}
              <tr class="total">
                <th scope="row">total</th>
                <td class="num">{num(run.totals.docs_in)}</td>
                <td class="num">{num(run.totals.docs_kept)}</td>
                <td class="num">{num(run.totals.docs_dropped)}</td>
                <td>{run.totals.docs_dropped > 0 && <a href={href(`/runs/${run.id}/dropped`)}>Browse all dropped documents</a>}</td>
                <td>
                  <span class="reason">
                    tokens kept <span class="count">{num(run.totals.tokens_kept)}</span>
                  </span>
                </td>
              </tr>
            </tbody>
          </table>
        </>
      )}

      {run.failed_tasks.length > 0 && (
        <>
          <h2>Failed tasks</h2>
          <table class="grid">
            <thead>
              <tr>
                <th scope="col">Task</th>
                <th scope="col">Input</th>
                <th scope="col">Error</th>
              </tr>
            </thead>
            <tbody>
              {run.failed_tasks.map((t) => (
                <tr key={t.index}>
                  <td>{t.index}</td>
                  <td>
                    <code>{t.input}</code>
                  </td>
                  <td>{t.error}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}

      <h2>Details</h2>
      <dl class="details">
        <dt>Dataset version</dt>
        <dd>{run.dataset_version_id ? <a href={`#/datasets/${run.dataset_version_id}`}>{short(run.dataset_version_id)}{run.reused_version ? " (reused)" : ""}</a> : "–"}</dd>
        <dt>Fingerprint</dt>
        <dd>
          <code>{run.fingerprint ?? "–"}</code>
        </dd>
        <dt>Source</dt>
        <dd title={run.source_id}>{run.source_name}</dd>
        <dt>Pipeline</dt>
        <dd title={run.pipeline_id}>
          {run.pipeline_name} v{run.pipeline_version}
        </dd>
        <dt>Created</dt>
        <dd>{when(run.created_at)}</dd>
        <dt>Started</dt>
        <dd>{when(run.started_at)}</dd>
        <dt>Finished</dt>
        <dd>{when(run.finished_at)}</dd>
      </dl>
    </section>
  );
}

/**
 * A step's drops as a number and a bar on the drops' own scale (the step that drops most fills it):
 * next to the documents that pass, 3 drops out of 410 would be too thin to see.
 */
function DropBar({ dropped, most, step }: { dropped: number; most: number; step: string }) {
  return (
    <span class="drop">
      {num(dropped)}
      <span class="drop-track" aria-hidden="true">
        {dropped > 0 && <span class="drop-bar" data-step={step} style={{ width: `max(4px, ${(100 * dropped) / most}%)` }} />}
      </span>
    </span>
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
