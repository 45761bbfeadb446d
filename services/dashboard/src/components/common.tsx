import type { ComponentChildren } from "preact";
import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import { href, navigations } from "../router.js";
import { num } from "../format.js";

export function Status({ status }: { status: string }) {
  return <span class={`status status-${status}`}>{status}</span>;
}

export function Progress({ fraction, label }: { fraction: number; label: string }) {
  return (
    <progress class="bar" max={1} value={fraction} aria-label={label}>
      {Math.round(fraction * 100)}%
    </progress>
  );
}

/**
 * Page heading that takes focus after in-app navigation, so keyboard and screen-reader users land on
 * the new page; on the first load focus stays at the top, where Tab reaches the skip link first.
 */
export function Heading({ children }: { children: ComponentChildren }) {
  const ref = useRef<HTMLHeadingElement>(null);
  // A layout effect: focus moves in the same commit that mounts the heading, before the next paint.
  useLayoutEffect(() => {
    if (navigations > 0) ref.current?.focus({ preventScroll: true });
  }, []);
  return (
    <h1 tabIndex={-1} ref={ref}>
      {children}
    </h1>
  );
}

export function Pager({ path, query, offset, limit, total }: { path: string; query?: Record<string, string | undefined>; offset: number; limit: number; total: number }) {
  if (total <= limit) return null;
  const prev = Math.max(0, offset - limit);
  const next = offset + limit;
  return (
    <nav class="pager" aria-label="Pagination">
      {offset > 0 ? <a href={href(path, { ...query, offset: prev || undefined })}>← Newer</a> : <span aria-hidden="true">← Newer</span>}
      <span>
        {num(offset + 1)}–{num(Math.min(total, offset + limit))} of {num(total)}
      </span>
      {next < total ? <a href={href(path, { ...query, offset: next })}>Older →</a> : <span aria-hidden="true">Older →</span>}
    </nav>
  );
}

export function ErrorNote({ error }: { error: unknown }) {
  if (!error) return null;
  return (
    <p class="error" role="alert">
      {error instanceof Error ? error.message : String(error)}
    </p>
  );
}

/** Loads `fn` when `deps` change and, with `everyMs`, again on an interval while the tab is visible. */
export function useLoad<T>(fn: () => Promise<T>, deps: unknown[], everyMs?: number): { data: T | null; error: unknown; reload: () => void } {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    const load = () =>
      fn().then(
        (d) => live && (setData(d), setError(null)),
        (e: unknown) => live && setError(e),
      );
    void load();
    const timer = everyMs ? setInterval(() => document.visibilityState === "visible" && void load(), everyMs) : undefined;
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, [...deps, tick]);
  return { data, error, reload: () => setTick((t) => t + 1) };
}

/** "Cancel run" with a confirmation step (the confirm button takes focus; "Keep running" backs out). */
export function CancelRun({ question, onConfirm }: { question: string; onConfirm: () => void }) {
  const [confirming, setConfirming] = useState(false);
  return (
    <div class="actions">
      {!confirming ? (
        <button type="button" class="danger" onClick={() => setConfirming(true)}>
          Cancel run
        </button>
      ) : (
        <div role="group" aria-label="Confirm cancelling this run">
          <span>{question}</span>
          <button
            type="button"
            class="danger"
            onClick={() => {
              setConfirming(false);
              onConfirm();
            }}
            autoFocus
          >
            Yes, cancel run
          </button>
          <button type="button" onClick={() => setConfirming(false)}>
            Keep running
          </button>
        </div>
      )}
    </div>
  );
}
