import { api, qs } from "../api.js";
import { ErrorNote, Heading, Pager, useLoad } from "../components/common.js";
import { Breakable, DiffTable } from "../components/diff-table.js";
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
  // Loaded by id rather than taken from the list: a mixture may be on another page of it. The first
  // one always, for the weights its specification gave beside the shares the plan made of them.
  const mixA = useLoad(() => (a ? api<MixtureView>(`/mixtures/${a}`) : none), [a]);
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
      {budgetA.data && !b && <BudgetTable rows={budgetA.data} spec={mixA.data?.id === a ? mixA.data.spec : null} title={`Budget of ${nameOf(a)}`} />}
      {b && mixA.data && mixB.data && <DiffTable what="Specification" a={mixA.data.spec} b={mixB.data.spec} nameA={mixA.data.name} nameB={mixB.data.name} />}
      {budgetA.data && budgetB.data && <BudgetDiff a={budgetA.data} b={budgetB.data} nameA={nameOf(a)} nameB={nameOf(b)} />}
    </section>
  );
}

/** What the specification gave a component: a weight (shares follow from it), a repeat count or tokens. */
function given(spec: unknown, phase: string, component: string): string {
  const phases = (spec as { phases?: Array<{ name?: string; components?: Array<Record<string, unknown>> }> } | null)?.phases ?? [];
  const c = phases.find((p) => p.name === phase)?.components?.find((x) => x.name === component);
  if (!c) return "–";
  if (typeof c.weight === "number") return num(c.weight);
  if (typeof c.repeat === "number") return `repeat ×${num(c.repeat)}`;
  if (typeof c.tokens === "number") return `${num(c.tokens)} tokens`;
  return "–";
}

function BudgetTable({ rows, spec, title }: { rows: BudgetRow[]; spec: unknown; title: string }) {
  return (
    <table class="grid">
      <caption>{title}</caption>
      <thead>
        <tr>
          <th scope="col">Phase</th>
          <th scope="col">Source</th>
          <th scope="col" class="num">Weight</th>
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
            <td class="num">{given(spec, r.phase, r.source)}</td>
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
  const phasesA = [...new Set(a.map((r) => r.phase))];
  const phasesB = [...new Set(b.map((r) => r.phase))];
  // Phases named differently in the two plans are matched by position (the first with the first),
  // otherwise every row would be absent on one side.
  const byPosition = phasesA.length !== phasesB.length || phasesA.some((p) => !phasesB.includes(p));
  const phaseKey = (r: BudgetRow, phases: string[]) => (byPosition ? String(phases.indexOf(r.phase)) : r.phase);
  const ma = new Map(a.map((r) => [`${phaseKey(r, phasesA)}\u0000${r.source}`, r]));
  const mb = new Map(b.map((r) => [`${phaseKey(r, phasesB)}\u0000${r.source}`, r]));
  const keys = [...new Set([...ma.keys(), ...mb.keys()])];
  const phaseLabel = (ra: BudgetRow | undefined, rb: BudgetRow | undefined) =>
    ra && rb && ra.phase !== rb.phase ? `${ra.phase} / ${rb.phase}` : (ra ?? rb)!.phase;
  return (
    <table class="grid diff fit">
      <caption>
        Budget: {nameA} vs {nameB}
      </caption>
      <thead>
        <tr>
          <th scope="col">Phase</th>
          <th scope="col">Source</th>
          <th scope="col" class="num">Tokens (<Breakable text={nameA} />)</th>
          <th scope="col" class="num">Tokens (<Breakable text={nameB} />)</th>
          <th scope="col" class="num">Δ tokens</th>
          <th scope="col" class="num">Share (<Breakable text={nameA} />)</th>
          <th scope="col" class="num">Share (<Breakable text={nameB} />)</th>
          <th scope="col" class="num">Epochs (<Breakable text={nameA} />)</th>
          <th scope="col" class="num">Epochs (<Breakable text={nameB} />)</th>
        </tr>
      </thead>
      <tbody>
        {keys.map((k) => {
          const ra = ma.get(k);
          const rb = mb.get(k);
          const d = (rb?.tokens ?? 0) - (ra?.tokens ?? 0);
          const phase = phaseLabel(ra, rb);
          const source = (ra ?? rb)!.source;
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
