package thinkificdouble

import (
	"bytes"
	"html/template"
	"net/http"
	"net/url"
	"time"
)

// codeTTL is how long an authorization code can be exchanged.
const codeTTL = 10 * time.Minute

type authCode struct {
	site        *Site
	redirectURI string
	challenge   string
	student     bool
	expires     time.Time
}

// authRequest is the query of GET /oauth2/authorize, carried through the prompt page.
type authRequest struct {
	ClientID, RedirectURI, ResponseType, ResponseMode string
	State, CodeChallenge, CodeChallengeMethod, Scope  string
}

func parseAuthRequest(v url.Values) authRequest {
	return authRequest{
		ClientID: v.Get("client_id"), RedirectURI: v.Get("redirect_uri"),
		ResponseType: v.Get("response_type"), ResponseMode: v.Get("response_mode"),
		State: v.Get("state"), CodeChallenge: v.Get("code_challenge"),
		CodeChallengeMethod: v.Get("code_challenge_method"), Scope: v.Get("scope"),
	}
}

// problem says why the request is refused, or "" when it is acceptable.
func (a authRequest) problem(clientID string) string {
	switch {
	case a.ClientID == "" || a.ClientID != clientID:
		return "unknown client_id"
	case a.ResponseType != "code":
		return "response_type must be code"
	case a.ResponseMode != "" && a.ResponseMode != "query":
		return "response_mode must be query"
	case a.State == "":
		return "state is required"
	case a.CodeChallenge != "" && a.CodeChallengeMethod != "S256":
		return "code_challenge_method must be S256"
	}
	u, err := url.Parse(a.RedirectURI)
	if a.RedirectURI == "" || err != nil || !u.IsAbs() || u.Host == "" {
		return "redirect_uri must be an absolute URL"
	}
	return ""
}

func (d *Double) authorize(w http.ResponseWriter, r *http.Request) {
	sub := r.PathValue("sub")
	noteSite(w, sub)
	d.mu.Lock()
	defer d.mu.Unlock()
	s := d.sites[sub]
	if s == nil {
		http.Error(w, "no such site", http.StatusNotFound)
		return
	}
	if s.answerFault(w, r.Method, "/oauth2/authorize") {
		return
	}
	req := parseAuthRequest(r.URL.Query())
	if p := req.problem(d.cfg.ClientID); p != "" {
		http.Error(w, p, http.StatusBadRequest)
		return
	}
	switch s.decision {
	case Deny:
		redirectDenied(w, r, req)
	case Prompt:
		d.renderPrompt(w, s, req)
	default:
		d.redirectWithCode(w, r, s, req, s.decision == Student)
	}
}

// decide is where the prompt page's buttons post.
func (d *Double) decide(w http.ResponseWriter, r *http.Request) {
	sub := r.PathValue("sub")
	noteSite(w, sub)
	d.mu.Lock()
	defer d.mu.Unlock()
	s := d.sites[sub]
	if s == nil {
		http.Error(w, "no such site", http.StatusNotFound)
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	req := parseAuthRequest(r.PostForm)
	if p := req.problem(d.cfg.ClientID); p != "" {
		http.Error(w, p, http.StatusBadRequest)
		return
	}
	switch r.PostForm.Get("decision") {
	case "approve":
		d.redirectWithCode(w, r, s, req, false)
	case "deny":
		redirectDenied(w, r, req)
	default:
		http.Error(w, "decision must be approve or deny", http.StatusBadRequest)
	}
}

// redirectWithCode issues a code and sends the browser back to the app. Callers hold d.mu.
func (d *Double) redirectWithCode(w http.ResponseWriter, r *http.Request, s *Site, req authRequest, student bool) {
	code := randomToken()
	d.codes[code] = &authCode{
		site: s, redirectURI: req.RedirectURI, challenge: req.CodeChallenge,
		student: student, expires: d.cfg.Now().Add(codeTTL),
	}
	u, _ := url.Parse(req.RedirectURI)
	q := u.Query()
	q.Set("code", code)
	q.Set("subdomain", s.subdomain)
	q.Set("state", req.State)
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.String(), http.StatusFound)
}

// redirectDenied sends exactly what Thinkific does on cancel: no state, no subdomain.
func redirectDenied(w http.ResponseWriter, r *http.Request, req authRequest) {
	u, _ := url.Parse(req.RedirectURI)
	if u.RawQuery != "" {
		u.RawQuery += "&"
	}
	u.RawQuery += "error=access+denied"
	http.Redirect(w, r, u.String(), http.StatusFound)
}

var promptPage = template.Must(template.New("prompt").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Authorize app — {{.Subdomain}}</title></head>
<body>
<h1>{{.Subdomain}}.thinkific.com (test double)</h1>
<p>An app (client <code>{{.Req.ClientID}}</code>) asks for access to this site.</p>
{{range $choice := .Choices}}
<form method="post" action="/sites/{{$.Subdomain}}/oauth2/authorize/decide" style="display:inline">
<input type="hidden" name="client_id" value="{{$.Req.ClientID}}">
<input type="hidden" name="redirect_uri" value="{{$.Req.RedirectURI}}">
<input type="hidden" name="response_type" value="{{$.Req.ResponseType}}">
<input type="hidden" name="response_mode" value="{{$.Req.ResponseMode}}">
<input type="hidden" name="state" value="{{$.Req.State}}">
<input type="hidden" name="code_challenge" value="{{$.Req.CodeChallenge}}">
<input type="hidden" name="code_challenge_method" value="{{$.Req.CodeChallengeMethod}}">
<input type="hidden" name="scope" value="{{$.Req.Scope}}">
<button type="submit" name="decision" value="{{$choice.Value}}">{{$choice.Label}}</button>
</form>
{{end}}
</body></html>
`))

type choice struct{ Value, Label string }

// renderPrompt shows the consent page. It renders into a buffer first so a template error
// never leaves half a page. Callers hold d.mu.
func (d *Double) renderPrompt(w http.ResponseWriter, s *Site, req authRequest) {
	var buf bytes.Buffer
	err := promptPage.Execute(&buf, map[string]any{
		"Subdomain": s.subdomain,
		"Req":       req,
		"Choices":   []choice{{"approve", "Approve"}, {"deny", "Deny"}},
	})
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(buf.Bytes())
}
