package client

import (
	"embed"
	"encoding/json"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

// webDist is the web dashboard, built by `make ui` from services/client/web
// into web/dist (committed, like pkg/gen): the single-page app at its root,
// Swagger UI and the merged OpenAPI spec in docs/.
//
//go:embed all:web/dist
var webDist embed.FS

// uiCSP allows only this origin: no CDN, no inline script. Inline styles are
// allowed for the charting library and Swagger UI.
const uiCSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// uiConfig is what the dashboard reads from /ui/config.json.
type uiConfig struct {
	// JaegerUIURL (JAEGER_UI_URL) makes the job page link to the job's
	// traces; empty: no link.
	JaegerUIURL string `json:"jaeger_ui_url,omitempty"`
	// TraceService is the service.name the trace links search.
	TraceService string `json:"trace_service,omitempty"`
}

// mountUI serves the dashboard at /ui/, Swagger UI at /docs/, and redirects
// / to /ui/. The files are public (the dashboard asks for the token); every
// API call they make is authenticated as usual. Other unknown paths still
// reach the gateway's 404.
func mountUI(mux *http.ServeMux, ui uiConfig) {
	dist, err := fs.Sub(webDist, "web/dist")
	if err != nil {
		panic(err) // the embedded tree always has web/dist
	}
	docs, err := fs.Sub(dist, "docs")
	if err != nil {
		panic(err)
	}
	cfg, _ := json.Marshal(ui)
	mux.Handle("GET /ui/config.json", uiHeaders(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-cache")
		_, _ = w.Write(cfg)
	})))
	mux.Handle("GET /ui/", uiHeaders(http.StripPrefix("/ui/", staticFiles(dist))))
	mux.Handle("GET /docs/", uiHeaders(http.StripPrefix("/docs/", staticFiles(docs))))
	mux.Handle("GET /{$}", http.RedirectHandler("/ui/", http.StatusFound))
}

// staticFiles serves fsys; hashed assets (Vite's assets/) are immutable,
// everything else is revalidated.
func staticFiles(fsys fs.FS) http.Handler {
	files := http.FileServerFS(fsys)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(path.Clean("/"+r.URL.Path), "/assets/") {
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			w.Header().Set("Cache-Control", "no-cache")
		}
		files.ServeHTTP(w, r)
	})
}

func uiHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", uiCSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}
