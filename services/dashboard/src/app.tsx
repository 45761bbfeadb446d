import { useEffect, useState } from "preact/hooks";
import { api, session, setUnauthorizedHandler } from "./api.js";
import { navigate, useRoute, type Route } from "./router.js";
import type { Session } from "./types.js";
import { LoginPage } from "./pages/login.js";
import { RunsPage } from "./pages/runs.js";
import { RunPage } from "./pages/run.js";
import { DroppedPage } from "./pages/dropped.js";
import { DatasetsPage, DatasetPage } from "./pages/datasets.js";
import { QueuesPage } from "./pages/queues.js";
import { MixturesPage } from "./pages/mixtures.js";
import { ExperimentsPage } from "./pages/experiments.js";
import { ExperimentPage } from "./pages/experiment.js";

/** Scopes nest: admin ⊃ write ⊃ read. */
const RANK = ["read", "write", "admin"];

const NAV = [
  { path: "/runs", label: "Curation runs" },
  { path: "/datasets", label: "Datasets" },
  { path: "/mixtures", label: "Mixtures" },
  { path: "/experiments", label: "Experiments" },
  { path: "/queues", label: "Queues" },
];

export function App() {
  const route = useRoute();
  const [me, setMe] = useState<Session | null>(null);
  const [checked, setChecked] = useState(false);

  useEffect(() => {
    setUnauthorizedHandler(() => {
      session.clear();
      setMe(null);
      navigate("/login");
    });
    if (!session.token()) return setChecked(true);
    api<Session>("/session").then(
      (s) => (setMe(s), setChecked(true)),
      () => setChecked(true),
    );
  }, []);

  if (!checked) return null;
  if (!me || route.path === "/login") {
    return (
      <LoginPage
        onLogin={(s) => {
          setMe(s);
          if (route.path === "/login") navigate("/runs");
        }}
      />
    );
  }
  return (
    <>
      <a class="skip" href="#main" onClick={(e) => (e.preventDefault(), document.getElementById("main")?.focus())}>
        Skip to content
      </a>
      <header class="top">
        <span class="brand">tokenmill</span>
        <nav aria-label="Main">
          <ul>
            {NAV.map((n) => (
              <li key={n.path}>
                <a href={`#${n.path}`} aria-current={route.path.startsWith(n.path) ? "page" : undefined}>
                  {n.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <span class="who">
          {me.name} <small>({me.scopes.join(", ")})</small>
          <button
            type="button"
            class="link"
            onClick={() => {
              session.clear();
              setMe(null);
              navigate("/login");
            }}
          >
            Sign out
          </button>
        </span>
      </header>
      <main id="main" tabIndex={-1}>
        <Page route={route} me={me} />
      </main>
    </>
  );
}

function Page({ route, me }: { route: Route; me: Session }) {
  const [top, id, sub] = route.parts;
  const can = (scope: string) => Math.max(...me.scopes.map((s) => RANK.indexOf(s))) >= RANK.indexOf(scope);
  switch (top) {
    case "runs":
      if (id && sub === "dropped") return <DroppedPage key={route.path + route.query} id={id} query={route.query} />;
      if (id) return <RunPage key={id} id={id} canWrite={can("write")} />;
      return <RunsPage query={route.query} />;
    case "datasets":
      return id ? <DatasetPage key={id} id={id} /> : <DatasetsPage query={route.query} />;
    case "queues":
      return <QueuesPage query={route.query} isAdmin={can("admin")} />;
    case "experiments":
      return id ? <ExperimentPage key={id} id={id} query={route.query} canWrite={can("write")} /> : <ExperimentsPage query={route.query} />;
    case "mixtures":
      return <MixturesPage query={route.query} />;
    default:
      return (
        <section>
          <h1>Not found</h1>
          <p>
            No page at <code>{route.path}</code>. <a href="#/runs">Go to the curation runs.</a>
          </p>
        </section>
      );
  }
}
