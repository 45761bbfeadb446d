import { api, qs } from "../api.js";
import { ErrorNote, Heading, Pager, useLoad } from "../components/common.js";
import { bytes, num, short, when } from "../format.js";
import type { Page, ShardView, VersionView } from "../types.js";

const LIMIT = 25;

export function DatasetsPage({ query }: { query: URLSearchParams }) {
  const offset = Number(query.get("offset") ?? 0) || 0;
  const { data, error } = useLoad(() => api<Page<VersionView>>(`/dataset-versions${qs({ limit: LIMIT, offset })}`), [offset]);
  return (
    <section>
      <Heading>Dataset versions</Heading>
      <ErrorNote error={error} />
      {data && data.items.length === 0 && <p>No dataset versions yet: a succeeded curation run publishes one.</p>}
      {data && data.items.length > 0 && (
        <table class="grid">
          <caption class="sr-only">Dataset versions, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Fingerprint</th>
              <th scope="col" class="num">Documents</th>
              <th scope="col" class="num">Tokens</th>
              <th scope="col" class="num">Shards</th>
              <th scope="col" class="num">Size</th>
              <th scope="col">Created</th>
            </tr>
          </thead>
          <tbody>
            {data.items.map((v) => (
              <tr key={v.id}>
                <td>
                  <a href={`#/datasets/${v.id}`}>{v.name}</a>
                </td>
                <td>
                  <code>{short(v.fingerprint)}</code>
                </td>
                <td class="num">{num(v.docs)}</td>
                <td class="num">{num(v.tokens)}</td>
                <td class="num">{num(v.shards)}</td>
                <td class="num">{bytes(v.bytes)}</td>
                <td>{when(v.created_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {data && <Pager path="/datasets" offset={offset} limit={LIMIT} total={data.total} />}
    </section>
  );
}

export function DatasetPage({ id }: { id: string }) {
  const version = useLoad(() => api<VersionView>(`/dataset-versions/${id}`), [id]);
  const shards = useLoad(() => api<{ items: ShardView[] }>(`/dataset-versions/${id}/shards`), [id]);
  const manifest = useLoad(() => api<unknown>(`/dataset-versions/${id}/manifest`), [id]);
  const v = version.data;
  return (
    <section>
      <p class="crumbs">
        <a href="#/datasets">Dataset versions</a> / {v ? v.name : short(id)}
      </p>
      <Heading>{v ? `${v.name} · ${short(v.fingerprint)}` : "Dataset version"}</Heading>
      <ErrorNote error={version.error ?? shards.error ?? manifest.error} />
      {v && (
        <dl class="details">
          <dt>Location</dt>
          <dd>
            <code>{v.url}</code>
          </dd>
          <dt>Fingerprint</dt>
          <dd>
            <code>{v.fingerprint}</code>
          </dd>
          <dt>Tokenizer</dt>
          <dd>{v.tokenizer}</dd>
          <dt>Documents</dt>
          <dd>{num(v.docs)}</dd>
          <dt>Tokens</dt>
          <dd>{num(v.tokens)}</dd>
          <dt>Size</dt>
          <dd>{bytes(v.bytes)}</dd>
          <dt>Created</dt>
          <dd>{when(v.created_at)}</dd>
          <dt>Made by</dt>
          <dd>{v.run_id ? <a href={`#/runs/${v.run_id}`}>Run {short(v.run_id)}</a> : "–"}</dd>
        </dl>
      )}
      <h2>Shards</h2>
      {shards.data && (
        <table class="grid">
          <caption class="sr-only">Arrow shards</caption>
          <thead>
            <tr>
              <th scope="col">#</th>
              <th scope="col">Key</th>
              <th scope="col" class="num">Rows</th>
              <th scope="col" class="num">Tokens</th>
              <th scope="col" class="num">Size</th>
              <th scope="col">sha256</th>
            </tr>
          </thead>
          <tbody>
            {shards.data.items.map((s) => (
              <tr key={s.key}>
                <td>{s.position}</td>
                <td>
                  <code>{s.key.slice(s.key.lastIndexOf("/") + 1)}</code>
                </td>
                <td class="num">{num(s.rows)}</td>
                <td class="num">{num(s.tokens)}</td>
                <td class="num">{bytes(s.bytes)}</td>
                <td>
                  <code title={s.sha256}>{s.sha256.slice(0, 12)}…</code>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h2>Manifest</h2>
      {manifest.data !== null && (
        <details>
          <summary>manifest.json</summary>
          <pre class="json">{JSON.stringify(manifest.data, null, 2)}</pre>
        </details>
      )}
    </section>
  );
}
