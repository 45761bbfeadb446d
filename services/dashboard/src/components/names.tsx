import { api } from "../api.js";
import { short } from "../format.js";
import type { Page, VersionView } from "../types.js";
import { useLoad } from "./common.js";

/**
 * Dataset-version id → "name · fingerprint" for showing specs and recipes by name. One page of the
 * newest versions (the API's largest): an id beyond it keeps showing as an id.
 */
export function useVersionNames(): ReadonlyMap<string, string> {
  const list = useLoad(() => api<Page<VersionView>>("/dataset-versions?limit=500"), []);
  return new Map((list.data?.items ?? []).map((v) => [v.id.toLowerCase(), `${v.name} · ${short(v.fingerprint)}`]));
}
