import { useEffect, useRef, useState } from "preact/hooks";
import { api, qs } from "../api.js";
import { ErrorNote, Heading, Pager, useLoad } from "../components/common.js";
import { num, short } from "../format.js";
import { href, navigate } from "../router.js";
import type { DroppedDoc, Page, RunView } from "../types.js";

const LIMIT = 20;

/** Samples of a run's dropped documents, filtered by reason; each opens with its detail and provenance. */
export function DroppedPage({ id, query }: { id: string; query: URLSearchParams }) {
  const reason = query.get("reason") ?? "";
  const offset = Number(query.get("offset") ?? 0) || 0;
  const run = useLoad(() => api<RunView>(`/curation-runs/${id}`), [id]);
  const page = useLoad(() => api<Page<DroppedDoc>>(`/curation-runs/${id}/dropped${qs({ reason, limit: LIMIT, offset })}`), [id, reason, offset]);
  const [open, setOpen] = useState<DroppedDoc | null>(null);
  const reasons = run.data ? run.data.steps.flatMap((s) => Object.entries(s.dropped).filter(([, n]) => n > 0)) : [];

  return (
    <section>
      <p class="crumbs">
        <a href="#/runs">Curation runs</a> / <a href={`#/runs/${id}`}>{short(id)}</a> / dropped
      </p>
      <Heading>Dropped documents{reason ? ` · ${reason}` : ""}</Heading>
      <div class="filters">
        <label for="reason">Reason</label>
        <select id="reason" value={reason} onChange={(e) => navigate(href(`/runs/${id}/dropped`, { reason: (e.target as HTMLSelectElement).value }))}>
          <option value="">All reasons</option>
          {reasons.map(([r, n]) => (
            <option key={r} value={r}>
              {r} ({num(n)})
            </option>
          ))}
        </select>
      </div>
      <ErrorNote error={page.error ?? run.error} />
      {page.data && page.data.items.length === 0 && <p>No dropped documents{reason ? ` for ${reason}` : ""}.</p>}
      {page.data && page.data.items.length > 0 && (
        <table class="grid">
          <caption class="sr-only">Dropped documents</caption>
          <thead>
            <tr>
              <th scope="col">Document</th>
              <th scope="col">Reason</th>
              <th scope="col">Detail</th>
              <th scope="col">File and line</th>
              <th scope="col">Text</th>
            </tr>
          </thead>
          <tbody>
            {page.data.items.map((d, i) => (
              <tr key={`${d.object_key}:${i}`}>
                <td>
                  <button type="button" class="link" onClick={() => setOpen(d)} aria-haspopup="dialog">
                    {d.doc_id}
                  </button>
                </td>
                <td>
                  <code>{d.reason}</code>
                </td>
                <td>{d.detail ?? "–"}</td>
                <td>
                  <code>{fileName(d.provenance.file)}</code>
                  {d.provenance.line !== null ? `:${d.provenance.line}` : ""}
                </td>
                <td class="text-head">{d.text_head ? d.text_head.slice(0, 80) : "–"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {page.data && <Pager path={`/runs/${id}/dropped`} query={{ reason: reason || undefined }} offset={offset} limit={LIMIT} total={page.data.total} />}
      {open && <DroppedDialog doc={open} onClose={() => setOpen(null)} />}
    </section>
  );
}

const fileName = (f: string | null) => (f ? f.slice(f.lastIndexOf("/") + 1) : "–");

/** A modal <dialog>: focus moves into it, Escape closes it, and focus returns to the row's button. */
function DroppedDialog({ doc, onClose }: { doc: DroppedDoc; onClose: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const opener = document.activeElement as HTMLElement | null;
    ref.current?.showModal();
    return () => opener?.focus();
  }, []);
  return (
    <dialog ref={ref} class="doc" aria-labelledby="doc-title" onClose={onClose}>
      <h2 id="doc-title">
        Dropped document <code>{doc.doc_id}</code>
      </h2>
      <dl class="details">
        <dt>Step</dt>
        <dd>{doc.step}</dd>
        <dt>Reason</dt>
        <dd>
          <code>{doc.reason}</code>
        </dd>
        <dt>Detail</dt>
        <dd>{doc.detail ?? "–"}</dd>
        <dt>Source</dt>
        <dd>{doc.provenance.source ?? "–"}</dd>
        <dt>File</dt>
        <dd>
          <code>{doc.provenance.file ?? "–"}</code>
        </dd>
        <dt>Line</dt>
        <dd>{doc.provenance.line ?? "–"}</dd>
        <dt>Byte offset</dt>
        <dd>{doc.provenance.byte_offset ?? "–"}</dd>
        <dt>Stored in</dt>
        <dd>
          <code>{doc.object_key}</code>
        </dd>
      </dl>
      <h3>Text (first 1,000 characters)</h3>
      <pre class="text">{doc.text_head ?? "(no text: the document could not be read)"}</pre>
      <form method="dialog">
        <button type="submit" autoFocus>
          Close
        </button>
      </form>
    </dialog>
  );
}
