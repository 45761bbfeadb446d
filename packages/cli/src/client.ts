/** A thin REST client over the tokenmill API; errors carry the API's message and field. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

export interface ClientOptions {
  url: string;
  token?: string;
}

export class Client {
  constructor(readonly opts: ClientOptions) {}

  async request<T = any>(method: string, path: string, body?: unknown): Promise<T> {
    const url = `${this.opts.url.replace(/\/+$/, "")}${path}`;
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: {
          ...(this.opts.token ? { authorization: `Bearer ${this.opts.token}` } : {}),
          ...(body !== undefined ? { "content-type": "application/json" } : {}),
        },
        body: body !== undefined ? JSON.stringify(body) : undefined,
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
      throw new ApiError(0, "unreachable", `cannot reach the tokenmill API at ${this.opts.url} (${cause}); is it running? Set --url or TOKENMILL_URL`);
    }
    const text = await res.text();
    const json = text ? safeJson(text) : undefined;
    if (!res.ok) {
      const e = (json ?? {}) as { error?: string; message?: string; field?: string };
      throw new ApiError(res.status, e.error ?? `http_${res.status}`, e.message ?? `${method} ${path} → HTTP ${res.status}`, e.field);
    }
    return json as T;
  }

  get<T = any>(path: string) {
    return this.request<T>("GET", path);
  }
  post<T = any>(path: string, body?: unknown) {
    return this.request<T>("POST", path, body ?? {});
  }
  delete<T = any>(path: string) {
    return this.request<T>("DELETE", path);
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return { message: text.slice(0, 500) };
  }
}
