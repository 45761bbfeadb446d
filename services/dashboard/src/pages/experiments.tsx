import { api, qs } from "../api.js";
import { ErrorNote, Heading, Pager, Progress, Status, useLoad } from "../components/common.js";
import { duration, num, pct, short, when } from "../format.js";
import type { Page, TrainingRunView } from "../types.js";

export interface ExperimentView {
  id: string;
  name: string;
  recipe_hash: string;
  /** The recipe document as the API stored it. */
  recipe: unknown;
  mixtures: Array<{ stage: string; mixture_id: string; fingerprint: string }>;
  created_at: string;
}

const LIMIT = 25;

/**
 * Experiments, paginated on the server, each with its latest training run (status, progress, ETA)
 * from one GET /runs/latest for the page; refreshed every 5 s.
 */
export function ExperimentsPage({ query }: { query: URLSearchParams }) {
  const offset = Number(query.get("offset") ?? 0) || 0;
  const { data, error } = useLoad(
    async () => {
      const page = await api<Page<ExperimentView>>(`/experiments${qs({ limit: LIMIT, offset })}`);
      const latest = page.items.length
        ? await api<{ items: Array<{ experiment_id: string; runs: number; run: TrainingRunView }> }>(`/runs/latest${qs({ experiment: page.items.map((e) => e.id).join(",") })}`)
        : { items: [] };
      return { page, latest: new Map(latest.items.map((l) => [l.experiment_id, l])) };
    },
    [offset],
    5000,
  );
  return (
    <section>
      <Heading>Experiments</Heading>
      <ErrorNote error={error} />
      {data && data.page.items.length === 0 && <p>No experiments yet (<code>POST /experiments</code> with a recipe).</p>}
      {data && data.page.items.length > 0 && (
        <table class="grid">
          <caption class="sr-only">Experiments, newest first, with their latest training run</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Stages</th>
              <th scope="col">Latest run</th>
              <th scope="col">Progress</th>
              <th scope="col" class="num">ETA</th>
              <th scope="col" class="num">Runs</th>
              <th scope="col">Created</th>
            </tr>
          </thead>
          <tbody>
            {data.page.items.map((e) => {
              const l = data.latest.get(e.id);
              const r = l?.run;
              return (
                <tr key={e.id}>
                  <td>
                    <a href={`#/experiments/${e.id}`}>{e.name}</a>
                  </td>
                  <td>{e.mixtures.map((m) => m.stage).join(", ")}</td>
                  <td>{r ? <Status status={r.status} /> : <span class="note">no runs</span>}</td>
                  <td>
                    {r && (
                      <span class="progress-cell">
                        <Progress fraction={r.progress.fraction} label={`Progress of ${e.name}`} /> {pct(r.progress.fraction)}
                        {r.progress.total_steps ? ` · step ${num(r.progress.step)}/${num(r.progress.total_steps)}` : ""}
                      </span>
                    )}
                  </td>
                  <td class="num">{r ? duration(r.progress.eta_s) : "–"}</td>
                  <td class="num">{num(l?.runs ?? 0)}</td>
                  <td>
                    {when(e.created_at)} <code class="note">{short(e.recipe_hash)}</code>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {data && <Pager path="/experiments" offset={offset} limit={LIMIT} total={data.page.total} />}
    </section>
  );
}
