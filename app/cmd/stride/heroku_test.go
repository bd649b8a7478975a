package main

import (
	"encoding/json"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/strideapp/stride/app/config"
)

// configReads are the environment variables config.Load reads. The test checks each against
// config.go, so the list follows the code; app.json may only name these.
var configReads = []string{
	"PORT", "APP_URL", "DATABASE_URL", "DATA_DIR",
	"THINKIFIC_CLIENT_ID", "THINKIFIC_CLIENT_SECRET", "THINKIFIC_CLIENT_SECRET_PREVIOUS",
	"SECRET_KEY", "THINKIFIC_SITE_URL", "THINKIFIC_API_URL", "THINKIFIC_APP_SLUG",
	"WEBHOOK_SWEEP_INTERVAL", "LOG_LEVEL", "PAIRING_WINDOW", "PAIRING_WAIT_FOR_LESSON",
	"UNINSTALL_GRACE_PERIOD", "DELIVERY_RETENTION", "SECRET_KEY_PREVIOUS", "DATABASE_MAX_CONNECTIONS",
	"SMTP_URL", "MAIL_FROM", "METRICS_TOKEN",
}

// herokuDeploy is what Heroku reads from the repository when it builds and runs Stride.
type herokuDeploy struct {
	procfile map[string][]string // process type → command words
	gomod    string
	app      appJSON
	configGo string
}

type appJSON struct {
	Name       string
	Stack      string
	Buildpacks []struct{ URL string }
	Addons     []json.RawMessage // a plan string or {"plan": ...}
	Formation  map[string]struct {
		Quantity int
		Size     string
	}
	Env map[string]struct {
		Description string
		Value       *string
		Required    *bool // Heroku's default is true
		Generator   string
	}
}

func TestHerokuDeployFiles(t *testing.T) {
	d := loadHerokuDeploy(t)

	checks := []struct {
		name  string
		check func(t *testing.T, d herokuDeploy)
	}{
		{"Procfile runs only stride commands", func(t *testing.T, d herokuDeploy) {
			for proc, words := range d.procfile {
				if len(words) != 2 || words[0] != "stride" {
					t.Errorf("Procfile %s: runs %q, want `stride <command>`", proc, strings.Join(words, " "))
					continue
				}
				if _, ok := commands[words[1]]; !ok {
					t.Errorf("Procfile %s: stride has no command %q (commands: %v)", proc, words[1], slices.Sorted(maps.Keys(commands)))
				}
			}
		}},
		{"Procfile has web, release and worker", func(t *testing.T, d herokuDeploy) {
			for _, want := range []struct{ proc, cmd string }{
				{"web", "serve"},       // only serve listens on $PORT
				{"release", "migrate"}, // serve refuses an unmigrated PostgreSQL
				{"worker", "worker"},
			} {
				words, ok := d.procfile[want.proc]
				if !ok {
					t.Errorf("Procfile has no %s process", want.proc)
				} else if len(words) < 2 || words[1] != want.cmd {
					t.Errorf("Procfile %s: runs %q, want `stride %s`", want.proc, strings.Join(words, " "), want.cmd)
				}
			}
		}},
		{"go.mod tells the Go buildpack what to build", func(t *testing.T, d herokuDeploy) {
			install := herokuDirective(t, d.gomod, "install")
			if !slices.ContainsFunc(install, func(p string) bool { return packageMatches(p, "./app/cmd/stride") }) {
				t.Errorf("go.mod: `// +heroku install %s` does not build ./app/cmd/stride", strings.Join(install, " "))
			}
			goVersion := herokuDirective(t, d.gomod, "goVersion")
			directive := regexp.MustCompile(`(?m)^go\s+(\S+)\s*$`).FindStringSubmatch(d.gomod)
			if directive == nil {
				t.Fatal("go.mod has no go directive")
			}
			if len(goVersion) != 1 || majorMinor(strings.TrimPrefix(goVersion[0], "go")) != majorMinor(directive[1]) {
				t.Errorf("go.mod: `// +heroku goVersion %s` does not match `go %s` (want go%s)",
					strings.Join(goVersion, " "), directive[1], majorMinor(directive[1]))
			}
		}},
		{"app.json builds with Go on PostgreSQL", func(t *testing.T, d herokuDeploy) {
			if !slices.ContainsFunc(d.app.Buildpacks, func(b struct{ URL string }) bool { return b.URL == "heroku/go" }) {
				t.Errorf("app.json buildpacks %v: want heroku/go", d.app.Buildpacks)
			}
			var plans []string
			for _, raw := range d.app.Addons {
				var plan string
				if json.Unmarshal(raw, &plan) != nil {
					var addon struct{ Plan string }
					if err := json.Unmarshal(raw, &addon); err != nil {
						t.Fatalf("app.json addon %s: %v", raw, err)
					}
					plan = addon.Plan
				}
				plans = append(plans, plan)
			}
			if !slices.ContainsFunc(plans, func(p string) bool { return strings.HasPrefix(p, "heroku-postgresql") }) {
				t.Errorf("app.json addons %v: want heroku-postgresql (it sets DATABASE_URL)", plans)
			}
			for proc := range d.app.Formation {
				if _, ok := d.procfile[proc]; !ok {
					t.Errorf("app.json formation names %q, which Procfile does not run", proc)
				}
			}
			if web := d.app.Formation["web"]; web.Quantity < 1 {
				t.Errorf("app.json formation: web quantity %d, want at least 1", web.Quantity)
			}
		}},
		{"app.json declares what serve needs", func(t *testing.T, d herokuDeploy) {
			for _, name := range []string{"APP_URL", "THINKIFIC_CLIENT_ID", "THINKIFIC_CLIENT_SECRET", "SECRET_KEY"} {
				v, ok := d.app.Env[name]
				switch {
				case !ok:
					t.Errorf("app.json env: %s is missing; serve needs it", name)
				case v.Generator == "" && v.Value == nil && v.Required != nil && !*v.Required:
					t.Errorf("app.json env: %s is optional with no value; serve needs it", name)
				case v.Description == "":
					t.Errorf("app.json env: %s has no description", name)
				}
			}
			if g := d.app.Env["SECRET_KEY"].Generator; g != "secret" {
				t.Errorf("app.json env: SECRET_KEY generator %q, want \"secret\"", g)
			}
		}},
		{"app.json names only variables config reads", func(t *testing.T, d herokuDeploy) {
			for name := range d.app.Env {
				if !slices.Contains(configReads, name) {
					t.Errorf("app.json env: %s is not read by config", name)
				}
			}
			for _, name := range configReads {
				if !strings.Contains(d.configGo, `"`+name+`"`) {
					t.Errorf("config.go does not mention %q: update configReads", name)
				}
			}
		}},
		{"app.json values are valid config", func(t *testing.T, d herokuDeploy) {
			// What a Deploy button run gives the app: app.json's values, the add-on's URL and
			// the values the partner types in.
			env := map[string]string{
				"APP_URL":                 "https://stride-example.herokuapp.com",
				"DATABASE_URL":            "postgres://u:p@ec2-1-2-3-4.compute-1.amazonaws.com:5432/d1",
				"THINKIFIC_CLIENT_ID":     "client-id",
				"THINKIFIC_CLIENT_SECRET": "client-secret",
				"SECRET_KEY":              strings.Repeat("ab", 32),
			}
			for name, v := range d.app.Env {
				if v.Value != nil && *v.Value != "" {
					env[name] = *v.Value
				}
			}
			if _, err := config.Load(func(k string) string { return env[k] }, config.NeedAll); err != nil {
				t.Errorf("config rejects app.json's values:\n%v", err)
			}
		}},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) { c.check(t, d) })
	}
}

func loadHerokuDeploy(t *testing.T) herokuDeploy {
	t.Helper()
	read := func(path string) string {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	d := herokuDeploy{
		procfile: map[string][]string{},
		gomod:    read("../../../go.mod"),
		configGo: read("../../config/config.go"),
	}
	line := regexp.MustCompile(`^([A-Za-z0-9_-]+):\s*(\S.*)$`)
	for i, l := range strings.Split(read("../../../Procfile"), "\n") {
		if strings.TrimSpace(l) == "" {
			continue
		}
		m := line.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("Procfile line %d: %q is not `type: command`", i+1, l)
		}
		if _, dup := d.procfile[m[1]]; dup {
			t.Fatalf("Procfile line %d: process type %s appears twice", i+1, m[1])
		}
		d.procfile[m[1]] = strings.Fields(m[2])
	}
	if err := json.Unmarshal([]byte(read("../../../app.json")), &d.app); err != nil {
		t.Fatalf("app.json: %v", err)
	}
	return d
}

// herokuDirective returns the words after `// +heroku <key>` in go.mod, failing unless the
// line appears exactly once.
func herokuDirective(t *testing.T, gomod, key string) []string {
	t.Helper()
	var found [][]string
	for l := range strings.Lines(gomod) {
		f := strings.Fields(l)
		if len(f) >= 3 && f[0] == "//" && f[1] == "+heroku" && f[2] == key {
			found = append(found, f[3:])
		}
	}
	if len(found) != 1 {
		t.Fatalf("go.mod has %d `// +heroku %s` lines, want 1", len(found), key)
	}
	return found[0]
}

// packageMatches reports whether a go-command package pattern (./dir or ./dir/...) names pkg.
func packageMatches(pattern, pkg string) bool {
	if dir, ok := strings.CutSuffix(pattern, "/..."); ok {
		return pkg == dir || strings.HasPrefix(pkg, dir+"/")
	}
	return pattern == pkg
}

// majorMinor turns 1.26.8 and 1.26 into 1.26.
func majorMinor(v string) string {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return v
	}
	return parts[0] + "." + parts[1]
}
