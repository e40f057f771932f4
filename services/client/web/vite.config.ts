import { defineConfig } from "vite";

// The dashboard is served by the client service at /ui/ from the embedded
// dist/ (services/client/ui.go). Output names carry content hashes, which are
// deterministic: identical sources give a byte-identical dist/ (make check-ui).
export default defineConfig({
  base: "/ui/",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    sourcemap: false,
    modulePreload: { polyfill: false },
    chunkSizeWarningLimit: 200,
  },
  server: {
    // `npx vite` against `make run`: the API and /metrics on :8080.
    proxy: {
      "/v1": "http://localhost:8080",
      "/metrics": "http://localhost:8080",
      "/ui/config.json": "http://localhost:8080",
    },
  },
});
