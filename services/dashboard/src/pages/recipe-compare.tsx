import { api, qs } from "../api.js";
import { ErrorNote, useLoad } from "../components/common.js";
import { DiffTable } from "../components/diff-table.js";
import { short, when } from "../format.js";
import type { Page } from "../types.js";
import type { ExperimentView } from "./experiments.js";

const none = Promise.resolve(null);

/**
 * The experiment's recipe against another experiment's (`?vs=`): the paths whose values differ,
 * stages, phases, sources and mix entries matched by name.
 */
export function RecipeCompare({ experiment, vs, onPick }: { experiment: ExperimentView; vs: string; onPick: (id: string) => void }) {
  const list = useLoad(() => api<Page<ExperimentView>>(`/experiments${qs({ limit: 100 })}`), []);
  // By id rather than from the list: the other experiment may be older than the newest 100.
  const other = useLoad(() => (vs ? api<ExperimentView>(`/experiments/${vs}`) : none), [vs]);
  const others = (list.data?.items ?? []).filter((e) => e.id !== experiment.id);
  return (
    <>
      <h2>Recipe</h2>
      <ErrorNote error={list.error ?? other.error} />
      {list.data && others.length === 0 && <p class="note">No other experiment to compare the recipe with.</p>}
      {others.length > 0 && (
        <div class="filters">
          <label for="recipe-vs">Compare the recipe with</label>
          {/* The page stays mounted while the user moves between runs: refresh the choices when they pick. */}
          <select id="recipe-vs" value={vs} onFocus={list.reload} onChange={(e) => onPick((e.target as HTMLSelectElement).value)}>
            <option value="">Nothing</option>
            {others.map((e) => (
              <option key={e.id} value={e.id}>
                {e.name} ({short(e.recipe_hash)}, {when(e.created_at)})
              </option>
            ))}
          </select>
        </div>
      )}
      {vs && other.data && <DiffTable what="Recipe" a={experiment.recipe} b={other.data.recipe} nameA={experiment.name} nameB={other.data.name} />}
    </>
  );
}
