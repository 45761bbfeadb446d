import { useEffect, useState } from "preact/hooks";

/** Hash routes (`#/runs/<id>?reason=x`): the API serves one index.html and needs no fallback routes. */
export interface Route {
  path: string;
  parts: string[];
  query: URLSearchParams;
}

export function parseHash(hash = location.hash): Route {
  const raw = hash.replace(/^#/, "") || "/runs";
  const [path = "/runs", search = ""] = raw.split("?", 2);
  return { path, parts: path.split("/").filter(Boolean), query: new URLSearchParams(search) };
}

/** Hash changes since the page loaded: a page heading takes focus only after in-app navigation. */
export let navigations = 0;
addEventListener("hashchange", () => navigations++);

export function useRoute(): Route {
  const [route, setRoute] = useState(parseHash);
  useEffect(() => {
    const on = () => setRoute(parseHash());
    addEventListener("hashchange", on);
    return () => removeEventListener("hashchange", on);
  }, []);
  return route;
}

export const href = (path: string, query: Record<string, string | number | undefined> = {}) => {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== "") q.set(k, String(v));
  const s = q.toString();
  return `#${path}${s ? `?${s}` : ""}`;
};

export const navigate = (to: string) => {
  location.hash = to.replace(/^#/, "");
};
