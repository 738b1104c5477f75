package server

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
)

//go:embed templates/*.html
var templateFS embed.FS

type pages struct {
	byName map[string]*template.Template
}

func loadPages() (*pages, error) {
	layout, err := template.New("layout.html").Funcs(template.FuncMap{
		"join": strings.Join,
	}).ParseFS(templateFS, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("parse layout: %w", err)
	}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	p := &pages{byName: map[string]*template.Template{}}
	for _, path := range names {
		name := strings.TrimPrefix(path, "templates/")
		if name == "layout.html" {
			continue
		}
		t, err := template.Must(layout.Clone()).ParseFS(templateFS, path)
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", name, err)
		}
		p.byName[name] = t
	}
	return p, nil
}

// render writes a page inside the layout; data may be nil.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, data map[string]any) {
	t := s.pages.byName[name]
	if t == nil {
		s.logErr(r.Context(), "render", fmt.Errorf("no template %s", name))
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	if data == nil {
		data = map[string]any{}
	}
	v := viewerFrom(r.Context())
	if v == nil {
		v = s.currentViewer(r)
	}
	data["Viewer"] = v
	if v != nil {
		data["CSRF"] = v.csrf
		data["IsAdmin"] = v.admin
	}
	data["Page"] = strings.TrimSuffix(name, ".html")
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", data); err != nil {
		s.logErr(r.Context(), "render", err, "page", name)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// renderError shows a short reason with a stable code.
func (s *Server) renderError(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	s.render(w, r, status, "error.html", map[string]any{"Status": status, "StatusText": http.StatusText(status), "Code": code, "Message": msg})
}
