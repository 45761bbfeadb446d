import { api, qs } from "../api.js";
import { ErrorNote, Heading, Pager, useLoad } from "../components/common.js";
import { DiffTable } from "../components/diff-table.js";
import { num, short, when } from "../format.js";
import { href, navigate } from "../router.js";
import type { BudgetRow, MixtureView, Page } from "../types.js";

const LIMIT = 50;
const epochs = (e: number | null) => (e === null ? "–" : e.toFixed(2));
const share = (r: BudgetRow | undefined) => (r ? `${(r.share * 100).toFixed(2)}%` : "–");
const none = Promise.resolve(null);

/**
 * Mixtures: the budget table of one plan, or two mixtures side by side (`?a=&b=`): the paths where
 * their specifications differ, then the budgets row by row.
 */
export function MixturesPage({ query }: { query: URLSearchParams }) {
  const offset = Number(query.get("offset") ?? 0) || 0;
  const a = query.get("a") ?? "";
  const b = query.get("b") ?? "";
  const list = useLoad(() => api<Page<MixtureView>>(`/mixtures${qs({ limit: LIMIT, offset })}`), [offset]);
  const budgetA = useLoad(() => (a ? api<BudgetRow[]>(`/mixtures/${a}/budget`) : none), [a]);
  const budgetB = useLoad(() => (b ? api<BudgetRow[]>(`/mixtures/${b}/budget`) : none), [b]);
  // Loaded by id rather than taken from the list: a mixture may be on another page of it.
  const mixA = useLoad(() => (a && b ? api<MixtureView>(`/mixtures/${a}`) : none), [a, b]);
  const mixB = useLoad(() => (a && b ? api<MixtureView>(`/mixtures/${b}`) : none), [a, b]);
  const items = list.data?.items ?? [];
  const pick = (which: "a" | "b", id: string) => navigate(href("/mixtures", { a: which === "a" ? id : a, b: which === "b" ? id : b }));
  const nameOf = (id: string) => items.find((m) => m.id === id)?.name ?? (mixA.data?.id === id ? mixA.data.name : mixB.data?.id === id ? mixB.data.name : short(id));

  return (
    <section>
      <Heading>Mixtures</Heading>
      <ErrorNote error={list.error ?? budgetA.error ?? budgetB.error ?? mixA.error ?? mixB.error} />
      {list.data && items.length === 0 && <p>No mixtures yet (<code>POST /mixtures</code>).</p>}
      {items.length > 0 && (
        <div class="filters">
          <label for="mix-a">Mixture</label>
          <select id="mix-a" value={a} onChange={(e) => pick("a", (e.target as HTMLSelectElement).value)}>
            <option value="">Choose…</option>
            {items.map((m) => (
              <option key={m.id} value={m.id}>
                {m.name} ({short(m.fingerprint)}, {when(m.created_at)})
              </option>
            ))}
          </select>
          <label for="mix-b">Compare with</label>
          <select id="mix-b" value={b} onChange={(e) => pick("b", (e.target as HTMLSelectElement).value)}>
            <option value="">Nothing</option>
            {items.map((m) => (
              <option key={m.id} value={m.id}>
                {m.name} ({short(m.fingerprint)})
              </option>
            ))}
          </select>
        </div>
      )}
      {list.data && <Pager path="/mixtures" offset={offset} limit={LIMIT} total={list.data.total} />}
      {budgetA.data && !budgetB.data && <BudgetTable rows={budgetA.data} title={`Budget of ${nameOf(a)}`} />}
      {b && mixA.data && mixB.data && <DiffTable what="Specification" a={mixA.data.spec} b={mixB.data.spec} nameA={mixA.data.name} nameB={mixB.data.name} />}
      {budgetA.data && budgetB.data && <BudgetDiff a={budgetA.data} b={budgetB.data} nameA={nameOf(a)} nameB={nameOf(b)} />}
    </section>
  );
}

function BudgetTable({ rows, title }: { rows: BudgetRow[]; title: string }) {
  return (
    <table class="grid">
      <caption>{title}</caption>
      <thead>
        <tr>
          <th scope="col">Phase</th>
          <th scope="col">Source</th>
          <th scope="col" class="num">Tokens</th>
          <th scope="col" class="num">Share</th>
          <th scope="col" class="num">Available</th>
          <th scope="col" class="num">Epochs</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => (
          <tr key={`${r.phase}/${r.source}`}>
            <td>{r.phase}</td>
            <th scope="row">{r.source}</th>
            <td class="num">{num(r.tokens)}</td>
            <td class="num">{(r.share * 100).toFixed(2)}%</td>
            <td class="num">{num(r.available_tokens)}</td>
            <td class="num">{epochs(r.epochs)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function BudgetDiff({ a, b, nameA, nameB }: { a: BudgetRow[]; b: BudgetRow[]; nameA: string; nameB: string }) {
  const key = (r: BudgetRow) => `${r.phase}\u0000${r.source}`;
  const ma = new Map(a.map((r) => [key(r), r]));
  const mb = new Map(b.map((r) => [key(r), r]));
  const keys = [...new Set([...ma.keys(), ...mb.keys()])];
  return (
    <table class="grid diff">
      <caption>
        Budget: {nameA} vs {nameB}
      </caption>
      <thead>
        <tr>
          <th scope="col">Phase</th>
          <th scope="col">Source</th>
          <th scope="col" class="num">Tokens ({nameA})</th>
          <th scope="col" class="num">Tokens ({nameB})</th>
          <th scope="col" class="num">Δ tokens</th>
          <th scope="col" class="num">Share ({nameA})</th>
          <th scope="col" class="num">Share ({nameB})</th>
          <th scope="col" class="num">Epochs ({nameA})</th>
          <th scope="col" class="num">Epochs ({nameB})</th>
        </tr>
      </thead>
      <tbody>
        {keys.map((k) => {
          const ra = ma.get(k);
          const rb = mb.get(k);
          const d = (rb?.tokens ?? 0) - (ra?.tokens ?? 0);
          const [phase, source] = k.split("\u0000");
          return (
            <tr key={k} class={d !== 0 || !ra || !rb ? "changed" : undefined}>
              <td>{phase}</td>
              <th scope="row">{source}</th>
              <td class="num">{ra ? num(ra.tokens) : "absent"}</td>
              <td class="num">{rb ? num(rb.tokens) : "absent"}</td>
              <td class="num">{d === 0 ? "0" : `${d > 0 ? "+" : ""}${num(d)}`}</td>
              <td class="num">{share(ra)}</td>
              <td class="num">{share(rb)}</td>
              <td class="num">{epochs(ra?.epochs ?? null)}</td>
              <td class="num">{epochs(rb?.epochs ?? null)}</td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}
