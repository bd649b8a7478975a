package thinkificdouble

import (
	"bytes"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Decision is what the authorize endpoint does for a site.
type Decision int

const (
	Approve Decision = iota // redirect with a code for an admin token
	Deny                    // redirect with error=access+denied, as when the admin cancels
	Student                 // redirect with a code that yields a role-limited token
	Prompt                  // show a page where a human in a browser picks Approve or Deny
)

// Site is one Thinkific school. Its methods lock the double, so tests may call them
// while requests are in flight.
type Site struct {
	d         *Double
	subdomain string
	gid       string
	tenantID  string
	apiKey    string
	ownerID   string

	decision    Decision
	hooks       []*hook
	access      string // latest admin pair
	refresh     string
	tokenGrants int
	tokenDelay  time.Duration
	faults      []Fault
	apiTimes    []time.Time // every API request authenticated as the site, in order
	cat         catalog
}

// hook is a webhook and whose secret signs its deliveries.
type hook struct {
	Webhook
	byApp bool // created through the API with the app's token, so signed with the client secret
}

// Webhook is one item of the Webhooks API, as Thinkific returns it.
type Webhook struct {
	ID        string `json:"id"`
	Status    string `json:"status"`
	Topic     string `json:"topic"`
	TargetURL string `json:"target_url"`
	CreatedAt string `json:"created_at"`
	CreatedBy string `json:"created_by"`
	UpdatedAt string `json:"updated_at"`
	UpdatedBy string `json:"updated_by"`
}

// Fault is a canned answer to the next Times matching requests authenticated as a site,
// once Skip matching requests have passed it by: Skip 2 answers the third. Path is a
// prefix of the API path ("" = any API request); a Path starting with "/oauth2/" matches
// the site's own OAuth endpoints instead, e.g. "/oauth2/token". Faulted API requests
// count against the rate limit like any other.
type Fault struct {
	Method string // "" = any
	Path   string
	Status int // default 500
	Body   string
	// Header is sent with the answer; a 429 without RateLimit-Reset gets "1".
	Header http.Header
	Times  int // default 1
	Skip   int
}

var subdomainPattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)

// AddSite creates a site, or returns the existing one with that subdomain. It panics on a
// subdomain Thinkific could not have, since that is a mistake in the test.
func (d *Double) AddSite(subdomain string) *Site {
	if !subdomainPattern.MatchString(subdomain) {
		panic(fmt.Sprintf("thinkificdouble: invalid subdomain %q", subdomain))
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if s, ok := d.sites[subdomain]; ok {
		return s
	}
	d.nextTenant++
	s := &Site{
		d:         d,
		subdomain: subdomain,
		gid:       randomUUID(),
		tenantID:  strconv.Itoa(d.nextTenant),
		apiKey:    randomToken(),
		ownerID:   strconv.Itoa(150000 + d.nextTenant),
	}
	d.sites[subdomain] = s
	return s
}

// Site returns the site with that subdomain, or nil.
func (d *Double) Site(subdomain string) *Site {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.sites[subdomain]
}

func (s *Site) Subdomain() string { return s.subdomain }
func (s *Site) GID() string       { return s.gid }
func (s *Site) TenantID() string  { return s.tenantID }

// APIKey is the key that signs deliveries of webhooks made in the admin UI (AddWebhook).
func (s *Site) APIKey() string { return s.apiKey }

func (s *Site) SetDecision(dec Decision) {
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	s.decision = dec
}

// Webhooks returns a copy of the site's webhooks in creation order.
func (s *Site) Webhooks() []Webhook {
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	out := make([]Webhook, len(s.hooks))
	for i, h := range s.hooks {
		out[i] = h.Webhook
	}
	return out
}

// AddWebhook creates an active webhook as if an admin made it in the Thinkific UI, so its
// deliveries are signed with the site's API key. No validation: tests may plant anything.
func (s *Site) AddWebhook(topic, targetURL string) Webhook {
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	return s.d.addHook(s, topic, targetURL, false).Webhook
}

// addHook stores a new active webhook. Callers hold d.mu.
func (d *Double) addHook(s *Site, topic, targetURL string, byApp bool) *hook {
	id, t := d.newID()
	at := formatTime(t)
	h := &hook{Webhook: Webhook{
		ID: id, Status: "active", Topic: topic, TargetURL: targetURL,
		CreatedAt: at, CreatedBy: s.ownerID, UpdatedAt: at, UpdatedBy: s.ownerID,
	}, byApp: byApp}
	s.hooks = append(s.hooks, h)
	return h
}

func (s *Site) DeleteWebhook(id string) bool {
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	return s.removeHook(id)
}

// removeHook deletes a webhook by id. Callers hold d.mu.
func (s *Site) removeHook(id string) bool {
	for i, h := range s.hooks {
		if h.ID == id {
			s.hooks = append(s.hooks[:i], s.hooks[i+1:]...)
			return true
		}
	}
	return false
}

// SetWebhookStatus changes a webhook's status, e.g. to "inactive" as Thinkific does to
// webhooks that keep failing.
func (s *Site) SetWebhookStatus(id, status string) bool {
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	h := s.findHook(id)
	if h == nil {
		return false
	}
	h.Status = status
	h.UpdatedAt = formatTime(s.d.cfg.Now())
	return true
}

// findHook returns the site's webhook with that id, or nil. Callers hold d.mu.
func (s *Site) findHook(id string) *hook {
	for _, h := range s.hooks {
		if h.ID == id {
			return h
		}
	}
	return nil
}

// Tokens returns the latest admin pair issued for the site.
func (s *Site) Tokens() (access, refresh string) {
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	return s.access, s.refresh
}

// RevokeAccessTokens makes every access token of the site answer 401, admin and student
// alike; refresh tokens keep working, so the app must refresh.
func (s *Site) RevokeAccessTokens() {
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	for tok, a := range s.d.access {
		if a.site == s {
			delete(s.d.access, tok)
		}
	}
}

// SetTokenDelay makes the site's token endpoint wait d before it answers (and grants).
func (s *Site) SetTokenDelay(d time.Duration) {
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	s.tokenDelay = d
}

// TokenRequests counts successful token grants of both grant types, students' included.
func (s *Site) TokenRequests() int {
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	return s.tokenGrants
}

// Inject queues a fault; the first queued fault that matches a request answers it.
func (s *Site) Inject(f Fault) {
	if f.Times <= 0 {
		f.Times = 1
	}
	if f.Status == 0 {
		f.Status = http.StatusInternalServerError
	}
	f.Header = f.Header.Clone()
	if f.Status == http.StatusTooManyRequests && f.Header.Get("RateLimit-Reset") == "" {
		if f.Header == nil {
			f.Header = http.Header{}
		}
		f.Header.Set("RateLimit-Reset", "1")
	}
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	s.faults = append(s.faults, f)
}

// answerFault writes the first matching fault, if any, and reports whether it did. path is
// the API path, or "/oauth2/..." for the site's own endpoints. Callers hold d.mu.
func (s *Site) answerFault(w http.ResponseWriter, method, path string) bool {
	oauth := strings.HasPrefix(path, "/oauth2/")
	for i := range s.faults {
		f := &s.faults[i]
		if f.Method != "" && !strings.EqualFold(f.Method, method) {
			continue
		}
		// An empty Path means "any API request": a fault meant for the API must not be
		// eaten by the token refresh that often precedes it.
		if oauth != strings.HasPrefix(f.Path, "/oauth2/") || !strings.HasPrefix(path, f.Path) {
			continue
		}
		if f.Skip > 0 {
			f.Skip--
			continue
		}
		for k, vs := range f.Header {
			w.Header()[k] = append([]string(nil), vs...)
		}
		if w.Header().Get("Content-Type") == "" && f.Body != "" {
			if b := bytes.TrimSpace([]byte(f.Body)); len(b) > 0 && (b[0] == '{' || b[0] == '[') {
				w.Header().Set("Content-Type", "application/json; charset=utf-8")
			} else {
				w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			}
		}
		w.WriteHeader(f.Status)
		w.Write([]byte(f.Body))
		if f.Times--; f.Times == 0 {
			s.faults = append(s.faults[:i], s.faults[i+1:]...)
		}
		return true
	}
	return false
}

// formatTime is Thinkific's webhook timestamp: RFC 3339 with nanoseconds.
func formatTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000000000Z07:00")
}
