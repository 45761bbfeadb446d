/**
 * The API client: every call carries the token from sessionStorage as a bearer token. Event streams
 * use a short-lived ticket instead (EventSource cannot send headers), so the token never enters a URL.
 */
const TOKEN_KEY = "tokenmill.token";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export const session = {
  token: (): string | null => sessionStorage.getItem(TOKEN_KEY),
  set: (token: string) => sessionStorage.setItem(TOKEN_KEY, token),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

/** Called when the API answers 401: the app sends the user back to the login page. */
let onUnauthorized: () => void = () => {};
export function setUnauthorizedHandler(fn: () => void): void {
  onUnauthorized = fn;
}

export async function api<T>(path: string, init: { method?: string; body?: unknown; token?: string } = {}): Promise<T> {
  const token = init.token ?? session.token();
  const headers: Record<string, string> = { accept: "application/json" };
  if (token) headers.authorization = `Bearer ${token}`;
  if (init.body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(path, { method: init.method ?? "GET", headers, body: init.body === undefined ? undefined : JSON.stringify(init.body) });
  const text = await res.text();
  const data = text ? (JSON.parse(text) as unknown) : null;
  if (!res.ok) {
    const err = (data ?? {}) as { error?: string; message?: string };
    if (res.status === 401 && !init.token) onUnauthorized();
    throw new ApiError(res.status, err.error ?? "http_error", err.message ?? `HTTP ${res.status}`);
  }
  return data as T;
}

export const qs = (params: Record<string, string | number | undefined | null>) => {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") p.set(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : "";
};

/**
 * Follows an SSE stream: fetches a ticket, opens the EventSource, and calls `onEvent` for each named
 * event. Returns a function that closes it. The stream closes itself after an `end` event.
 */
export function follow(path: string, events: Record<string, (data: unknown) => void>, onState?: (state: "live" | "ended" | "error") => void): () => void {
  let es: EventSource | null = null;
  let closed = false;
  const open = async () => {
    try {
      const { ticket } = await api<{ ticket: string }>("/events/tickets", { method: "POST" });
      if (closed) return;
      es = new EventSource(`${path}${path.includes("?") ? "&" : "?"}ticket=${encodeURIComponent(ticket)}`);
      es.onopen = () => onState?.("live");
      for (const [name, fn] of Object.entries(events)) es.addEventListener(name, (e) => fn(JSON.parse((e as MessageEvent<string>).data)));
      es.addEventListener("end", () => {
        es?.close();
        onState?.("ended");
      });
      es.onerror = () => {
        // A closed stream after `end` is normal; otherwise get a fresh ticket and reopen.
        if (closed || es?.readyState !== EventSource.CLOSED) return;
        onState?.("error");
        setTimeout(() => void (closed || open()), 3000);
      };
    } catch {
      onState?.("error");
    }
  };
  void open();
  return () => {
    closed = true;
    es?.close();
  };
}
