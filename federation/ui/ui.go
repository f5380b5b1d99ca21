// Package ui is the control plane's web dashboard: plain HTML, JavaScript
// and CSS embedded in the binary, with no build step and nothing fetched
// from the network at run time. The page calls the HTTP API from the
// browser (with the bearer token the user enters, if any), so it can show
// and do nothing that the API would not allow that user.
package ui

import (
	"embed"
	"io/fs"
	"net/http"
)

// Prefix is the path the dashboard is served under.
const Prefix = "/ui/"

//go:embed static
var static embed.FS

// Handler serves the dashboard under Prefix. Its pages are static; the
// data comes from the API.
func Handler() http.Handler {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic("ui: embedded files missing: " + err.Error()) // a build defect, not a runtime condition
	}
	files := http.StripPrefix(Prefix, http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Same-origin only: the page needs nothing from elsewhere.
		w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})
}
