import { useState } from "preact/hooks";
import { api, qs } from "../api.js";
import { ErrorNote, Heading, Pager, useLoad } from "../components/common.js";
import { num, when } from "../format.js";
import { href, navigate } from "../router.js";
import type { JobView, Page, QueueView } from "../types.js";

const STATES = ["waiting", "active", "delayed", "prioritized", "waiting-children", "paused", "failed", "completed"];
const LIMIT = 25;

/** Queues with counts per state and live workers; jobs per state; retry/remove of failed jobs for admins. */
export function QueuesPage({ query, isAdmin }: { query: URLSearchParams; isAdmin: boolean }) {
  const queues = useLoad(() => api<{ items: QueueView[] }>("/queues"), [], 3000);
  const name = query.get("queue") ?? queues.data?.items[0]?.name ?? "";
  const state = query.get("state") ?? "failed";
  const offset = Number(query.get("offset") ?? 0) || 0;
  const jobs = useLoad(
    () => (name ? api<Page<JobView>>(`/queues/${encodeURIComponent(name)}/jobs${qs({ state, limit: LIMIT, offset })}`) : Promise.resolve(null)),
    [name, state, offset],
    3000,
  );
  const [message, setMessage] = useState<string | null>(null);
  const [actionError, setActionError] = useState<unknown>(null);

  const act = async (job: JobView, action: "retry" | "remove") => {
    setActionError(null);
    try {
      const path = `/queues/${encodeURIComponent(name)}/jobs/${encodeURIComponent(job.id)}`;
      await api(action === "retry" ? `${path}/retry` : path, { method: action === "retry" ? "POST" : "DELETE" });
      setMessage(action === "retry" ? `Job ${job.id} queued again.` : `Job ${job.id} removed.`);
      jobs.reload();
      queues.reload();
    } catch (e) {
      setActionError(e);
    }
  };

  return (
    <section>
      <Heading>Queues and workers</Heading>
      <ErrorNote error={queues.error} />
      {queues.data?.items.map((q) => (
        <article key={q.name} class="queue" aria-labelledby={`q-${q.name}`}>
          <h2 id={`q-${q.name}`}>
            {q.name} {q.paused && <span class="status status-cancelled">paused</span>}
          </h2>
          <table class="grid counts">
            <caption class="sr-only">Jobs per state in {q.name}</caption>
            <thead>
              <tr>
                {STATES.map((s) => (
                  <th key={s} scope="col" class="num">
                    {s}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              <tr>
                {STATES.map((s) => (
                  <td key={s} class="num">
                    <a href={href("/queues", { queue: q.name, state: s })} aria-label={`${num(q.counts[s] ?? 0)} ${s} jobs in ${q.name}`}>
                      {num(q.counts[s] ?? 0)}
                    </a>
                  </td>
                ))}
              </tr>
            </tbody>
          </table>
          <h3>Workers alive: {q.workers.length}</h3>
          {q.workers.length > 0 && (
            <ul class="workers">
              {q.workers.map((w) => (
                <li key={w.name + w.addr}>
                  <code>{w.addr}</code> · connected {num(w.age_s)} s · idle {num(w.idle_s)} s
                </li>
              ))}
            </ul>
          )}
        </article>
      ))}

      {name && (
        <>
          <h2>Jobs</h2>
          <div class="filters">
            <label for="state">State</label>
            <select id="state" value={state} onChange={(e) => navigate(href("/queues", { queue: name, state: (e.target as HTMLSelectElement).value }))}>
              {STATES.map((s) => (
                <option key={s} value={s}>
                  {s}
                </option>
              ))}
            </select>
          </div>
          <p aria-live="polite" class="note">
            {message}
          </p>
          <ErrorNote error={actionError ?? jobs.error} />
          {jobs.data && jobs.data.items.length === 0 && <p>No {state} jobs in {name}.</p>}
          {jobs.data && jobs.data.items.length > 0 && (
            <table class="grid">
              <caption class="sr-only">
                {state} jobs in {name}
              </caption>
              <thead>
                <tr>
                  <th scope="col">Job</th>
                  <th scope="col">Name</th>
                  <th scope="col">Attempts</th>
                  <th scope="col">Reason</th>
                  <th scope="col">Created</th>
                  {state === "failed" && <th scope="col">Actions</th>}
                </tr>
              </thead>
              <tbody>
                {jobs.data.items.map((j) => (
                  <tr key={j.id}>
                    <td>
                      <code>{j.id}</code>
                    </td>
                    <td>{j.name}</td>
                    <td>
                      {j.attempts_made}/{j.attempts}
                    </td>
                    <td>{j.failed_reason ?? "–"}</td>
                    <td>{when(j.created_at)}</td>
                    {state === "failed" && (
                      <td class="row-actions">
                        {isAdmin ? (
                          <>
                            <button type="button" onClick={() => act(j, "retry")} aria-label={`Retry job ${j.id}`}>
                              Retry
                            </button>
                            <button type="button" class="danger" onClick={() => act(j, "remove")} aria-label={`Remove job ${j.id}`}>
                              Remove
                            </button>
                          </>
                        ) : (
                          <span class="hint">admin only</span>
                        )}
                      </td>
                    )}
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {jobs.data && <Pager path="/queues" query={{ queue: name, state }} offset={offset} limit={LIMIT} total={jobs.data.total} />}
        </>
      )}
    </section>
  );
}
