import { defineConfig } from "vite";

/**
 * The dashboard is a static bundle served by the API at /ui/ (services/api/src/routes/dashboard.ts).
 * Preact's automatic JSX runtime keeps the bundle small; uPlot draws the charts.
 */
export default defineConfig({
  base: "/ui/",
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: { outDir: "dist", emptyOutDir: true, target: "es2022", sourcemap: true, chunkSizeWarningLimit: 300 },
  server: { proxy: { "^/(?!ui/)": { target: process.env.TOKENMILL_URL ?? "http://127.0.0.1:8080", changeOrigin: false } } },
});
