/** One difference between two JSON documents, at a path like `phases[name=main].components[name=web].weight`. */
export interface Change {
  path: string;
  kind: "changed" | "added" | "removed";
  /** The value in the first document (undefined where it is absent). */
  a: unknown;
  /** The value in the second document (undefined where it is absent). */
  b: unknown;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Fields that identify an element of an array: components and phases have a name, a recipe's mix entries a source. */
const KEYS = ["name", "source"];

/** The key field and each element's key, when every element is an object with a distinct string value of it. */
function keyed(xs: unknown[]): { field: string; keys: string[] } | null {
  for (const field of KEYS) {
    const keys = xs.map((x) => (isObject(x) && typeof x[field] === "string" ? x[field] : null));
    if (keys.every((k): k is string => k !== null) && new Set(keys).size === keys.length) return { field, keys };
  }
  return null;
}

/**
 * The leaf-level differences between two JSON documents (mixture specs, recipes). Arrays of named
 * objects (phases, components, a recipe's mix entries by source) are matched by that key, so
 * reordering them is no difference and a changed weight shows under the component's name rather than
 * a shifted index; other arrays, and named ones that share no name, are compared by position. A key or element present on one side only is one change, not one per leaf.
 */
export function diffPaths(a: unknown, b: unknown, path = ""): Change[] {
  if (a === undefined && b === undefined) return [];
  if (a === undefined) return [{ path, kind: "added", a, b }];
  if (b === undefined) return [{ path, kind: "removed", a, b }];
  if (isObject(a) && isObject(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
    return keys.flatMap((k) => diffPaths(a[k], b[k], path ? `${path}.${k}` : k));
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    const ka = keyed(a);
    const kb = keyed(b);
    // Named elements with no name in common (phases "warmup, main" against "stage-1, stage-2") are
    // matched by position instead: by name every one would read as removed and added.
    const shared = ka && kb && ka.field === kb.field && ka.keys.some((k) => kb.keys.includes(k));
    if (ka && kb && shared) {
      const byKey = (xs: unknown[], ks: string[]) => new Map(ks.map((k, i) => [k, xs[i]]));
      const ma = byKey(a, ka.keys);
      const mb = byKey(b, kb.keys);
      return [...new Set([...ka.keys, ...kb.keys])].flatMap((k) => diffPaths(ma.get(k), mb.get(k), `${path}[${ka.field}=${k}]`));
    }
    return Array.from({ length: Math.max(a.length, b.length) }, (_, i) => diffPaths(a[i], b[i], `${path}[${i}]`)).flat();
  }
  return Object.is(a, b) ? [] : [{ path, kind: "changed", a, b }];
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;

/**
 * A value as the diff table shows it: JSON, or "absent". Ids the caller can name (dataset
 * versions) read as their names, since a UUID tells the reader nothing.
 */
export const showValue = (v: unknown, names: ReadonlyMap<string, string> = new Map()) =>
  v === undefined ? "absent" : JSON.stringify(v).replace(UUID, (id) => names.get(id.toLowerCase()) ?? id);
