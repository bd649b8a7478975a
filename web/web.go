// Package web holds Stride's templates and static files, embedded in the binary.
package web

import (
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"path"
	"strconv"
	"time"
)

//go:embed templates static
var files embed.FS

// Static is the static files, served under /static/.
func Static() fs.FS {
	sub, _ := fs.Sub(files, "static")
	return sub
}

// Pages parses every page template with the layout, once, at boot: a broken template
// stops the program at start rather than on a user's request.
func Pages() (map[string]*template.Template, error) {
	pages, err := fs.Glob(files, "templates/pages/*.html")
	if err != nil {
		return nil, err
	}
	if len(pages) == 0 {
		return nil, fmt.Errorf("web: no page templates")
	}
	funcs := template.FuncMap{
		// Times are written in UTC inside a <time data-local>: static/zone.js shows them in
		// the site's zone (Settings) or, without one, in the admin's browser zone.
		"datetime": localTime,
		"date":     func(t time.Time) string { return t.UTC().Format("2 Jan 2006") },
		"when": func(t *time.Time) template.HTML {
			if t == nil || t.IsZero() {
				return "—"
			}
			return localTime(*t)
		},
		"pct": func(p any) string {
			switch v := p.(type) {
			case float64:
				return strconv.FormatFloat(v, 'f', -1, 64) + "%"
			case *float64:
				if v != nil {
					return strconv.FormatFloat(*v, 'f', -1, 64) + "%"
				}
			}
			return "?"
		},
		"share": func(f float64) string { return strconv.FormatFloat(100*f, 'f', 0, 64) + "%" },
		"add":   func(a, b int) int { return a + b },
		"itoa":  strconv.Itoa,
		"dict": func(kv ...string) map[string]string {
			m := map[string]string{}
			for i := 0; i+1 < len(kv); i += 2 {
				m[kv[i]] = kv[i+1]
			}
			return m
		},
	}
	out := map[string]*template.Template{}
	for _, p := range pages {
		t, err := template.New(path.Base(p)).Funcs(funcs).ParseFS(files, "templates/layout.html", p)
		if err != nil {
			return nil, fmt.Errorf("web: %s: %w", p, err)
		}
		out[path.Base(p)] = t
	}
	return out, nil
}

// localTime is t for a page: UTC text, with the instant for static/zone.js to show in the
// site's or the browser's zone.
func localTime(t time.Time) template.HTML {
	t = t.UTC()
	return template.HTML(`<time datetime="` + t.Format(time.RFC3339) + `" data-local>` + t.Format("2 Jan 2006 15:04 UTC") + `</time>`)
}
