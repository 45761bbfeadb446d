import { api, qs } from "../api.js";
import { ErrorNote, Heading, Pager, Progress, Status, useLoad } from "../components/common.js";
import { num, short, when, TERMINAL } from "../format.js";
import type { Page, RunView } from "../types.js";

const LIMIT = 25;

/** Curation runs, newest first, paginated on the server; refreshed every few seconds. */
export function RunsPage({ query }: { query: URLSearchParams }) {
  const offset = Number(query.get("offset") ?? 0) || 0;
  const { data, error } = useLoad(() => api<Page<RunView>>(`/curation-runs${qs({ limit: LIMIT, offset })}`), [offset], 3000);
  return (
    <section>
      <Heading>Curation runs</Heading>
      <ErrorNote error={error} />
      {data && data.items.length === 0 && <p>No curation runs yet. Start one with <code>tokenmill runs start</code> or <code>POST /curation-runs</code>.</p>}
      {data && data.items.length > 0 && (
        <table class="grid">
          <caption class="sr-only">Curation runs, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Run</th>
              <th scope="col">Dataset</th>
              <th scope="col">Status</th>
              <th scope="col">Progress</th>
              <th scope="col" class="num">Docs in</th>
              <th scope="col" class="num">Kept</th>
              <th scope="col" class="num">Tokens kept</th>
              <th scope="col">Created</th>
            </tr>
          </thead>
          <tbody>
            {data.items.map((r) => (
              <tr key={r.id}>
                <td>
                  <a href={`#/runs/${r.id}`} aria-label={`Run ${short(r.id)} of ${r.dataset_name}`}>
                    <code>{short(r.id)}</code>
                  </a>
                </td>
                <td>{r.dataset_name}</td>
                <td>
                  <Status status={r.status} />
                </td>
                <td>
                  {TERMINAL.includes(r.status) && r.status !== "succeeded" ? "–" : <Progress fraction={r.progress.fraction} label={`Progress of run ${short(r.id)}`} />}
                </td>
                <td class="num">{num(r.totals.docs_in)}</td>
                <td class="num">{num(r.totals.docs_kept)}</td>
                <td class="num">{num(r.totals.tokens_kept)}</td>
                <td>{when(r.created_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {data && <Pager path="/runs" offset={offset} limit={LIMIT} total={data.total} />}
    </section>
  );
}
