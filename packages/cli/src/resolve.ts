import type { Client } from "./client.js";

/**
 * Names wherever ids: every resource with a unique name (experiments, sources, pipelines, mixtures,
 * dataset versions) can be given by name on the command line. The id routes take only ids, so the
 * CLI looks the name up in the list endpoint first and fails with the argument's name when it
 * matches nothing, or more than one thing.
 */
export type Kind = "experiment" | "source" | "pipeline" | "mixture" | "dataset";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const LIST: Record<Kind, string> = {
  experiment: "/experiments",
  source: "/sources",
  pipeline: "/pipelines",
  mixture: "/mixtures",
  dataset: "/dataset-versions",
};
const PAGE = 500;

/** The error for an argument that names nothing or several things; main prints its message. */
export class ResolveError extends Error {}

interface Item {
  id: string;
  name: string;
  version?: number;
  fingerprint?: string;
  created_at?: string;
}

/** Every item of a list endpoint, page by page. */
export async function all(c: Client, path: string): Promise<Item[]> {
  const items: Item[] = [];
  for (let offset = 0; ; offset += PAGE) {
    const sep = path.includes("?") ? "&" : "?";
    const page = await c.get<{ items: Item[]; total: number }>(`${path}${sep}limit=${PAGE}&offset=${offset}`);
    items.push(...page.items);
    if (page.items.length < PAGE || items.length >= page.total) return items;
  }
}

/**
 * The id for `value`, given as an id or a name, in `arg` (e.g. "<experiment>", "--source").
 * Pipelines take `name` (newest version) or `name@version`; datasets take `name` (newest version)
 * or `name@<fingerprint prefix>`.
 */
export async function resolveId(c: Client, kind: Kind, value: string, arg: string): Promise<string> {
  if (UUID.test(value)) return value;
  const [name, qualifier] = kind === "pipeline" || kind === "dataset" ? splitAt(value) : [value, undefined];
  const path = kind === "dataset" ? `${LIST.dataset}?name=${encodeURIComponent(name)}` : LIST[kind];
  let hits = (await all(c, path)).filter((x) => x.name === name);
  if (qualifier !== undefined && kind === "pipeline") hits = hits.filter((x) => String(x.version) === qualifier);
  if (qualifier !== undefined && kind === "dataset") hits = hits.filter((x) => x.fingerprint?.startsWith(qualifier));
  if (hits.length === 0) throw new ResolveError(`${arg}: no ${kind} with id or name "${value}" (tokenmill ${kind === "dataset" ? "datasets" : `${kind}s`} list shows them)`);
  if (kind === "pipeline" && qualifier === undefined) return newest(hits, (x) => x.version ?? 0).id;
  if (kind === "dataset" && qualifier === undefined) return newest(hits, (x) => Date.parse(x.created_at ?? "") || 0).id;
  if (hits.length > 1) throw new ResolveError(`${arg}: "${value}" matches ${hits.length} ${kind}s (${hits.map((h) => h.id).join(", ")}); give an id`);
  return hits[0]!.id;
}

function splitAt(value: string): [string, string | undefined] {
  const i = value.lastIndexOf("@");
  return i > 0 ? [value.slice(0, i), value.slice(i + 1)] : [value, undefined];
}

function newest(items: Item[], key: (x: Item) => number): Item {
  return items.reduce((a, b) => (key(b) > key(a) ? b : a));
}
