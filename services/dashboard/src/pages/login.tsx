import { useState } from "preact/hooks";
import { api, ApiError, session } from "../api.js";
import type { Session } from "../types.js";

/** Sign in with an API token (`tokenmill tokens create` or `admin bootstrap`); it stays in this tab only. */
export function LoginPage({ onLogin }: { onLogin: (s: Session) => void }) {
  const [token, setToken] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const me = await api<Session>("/session", { token: token.trim() });
      session.set(token.trim());
      onLogin(me);
    } catch (err) {
      setError(err instanceof ApiError && err.status === 401 ? "That token is not valid (unknown or revoked)." : (err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main id="main" class="login">
      <h1>tokenmill</h1>
      <form onSubmit={submit} aria-describedby="login-help">
        <label for="token">API token</label>
        <input id="token" name="token" type="password" autocomplete="off" required placeholder="tm_…" value={token} onInput={(e) => setToken((e.target as HTMLInputElement).value)} aria-invalid={error ? "true" : undefined} aria-describedby={error ? "login-error" : undefined} />
        <button type="submit" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
        {error && (
          <p id="login-error" class="error" role="alert">
            {error}
          </p>
        )}
        <p id="login-help" class="hint">
          The token is kept in this browser tab (sessionStorage) and sent as a bearer token. Create one with <code>tokenmill tokens create</code>.
        </p>
      </form>
    </main>
  );
}
