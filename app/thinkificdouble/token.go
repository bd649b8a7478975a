package thinkificdouble

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"mime"
	"net/http"
	"strings"
	"time"
)

// grant is who a token speaks for: a site's admin, or a student of it whose token must not
// reach the admin APIs.
type grant struct {
	site    *Site
	student bool
}

type accessToken struct {
	grant
	expires time.Time
}

type tokenRequest struct {
	GrantType    string `json:"grant_type"`
	Code         string `json:"code"`
	CodeVerifier string `json:"code_verifier"`
	RedirectURI  string `json:"redirect_uri"`
	RefreshToken string `json:"refresh_token"`
}

type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
	GID          string `json:"gid"`
}

func oauthError(code, description string) map[string]string {
	body := map[string]string{"error": code}
	if description != "" {
		body["error_description"] = description
	}
	return body
}

func (d *Double) token(w http.ResponseWriter, r *http.Request) {
	sub := r.PathValue("sub")
	noteSite(w, sub)
	d.mu.Lock()
	var delay time.Duration
	if s := d.sites[sub]; s != nil {
		delay = s.tokenDelay
	}
	d.mu.Unlock()
	// A slow answer is slow for the client only: the grant happens all the same, as a
	// server does whose client gave up waiting.
	time.Sleep(delay)
	d.mu.Lock()
	defer d.mu.Unlock()
	s := d.sites[sub]
	if s == nil {
		writeJSON(w, http.StatusNotFound, errorBody("Site not found."))
		return
	}
	if s.answerFault(w, r.Method, "/oauth2/token") {
		return
	}
	if !d.clientAuthenticated(r) {
		w.Header().Set("WWW-Authenticate", `Basic realm="oauth2"`)
		writeJSON(w, http.StatusUnauthorized, oauthError("invalid_client", ""))
		return
	}
	// Third parties report Thinkific refusing requests without a real User-Agent.
	if ua := r.UserAgent(); ua == "" || strings.HasPrefix(ua, "Go-http-client/") {
		writeJSON(w, http.StatusBadRequest, oauthError("invalid_request", "User-Agent required"))
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		writeJSON(w, http.StatusBadRequest, oauthError("invalid_request", "JSON body required"))
		return
	}
	var req tokenRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, oauthError("invalid_request", "malformed JSON body"))
		return
	}

	var g grant
	switch req.GrantType {
	case "authorization_code":
		c, ok := d.redeemCode(s, req)
		if !ok {
			writeJSON(w, http.StatusBadRequest, oauthError("invalid_grant", ""))
			return
		}
		g = grant{site: s, student: c.student}
	case "refresh_token":
		old, ok := d.refresh[req.RefreshToken]
		if req.RefreshToken == "" || !ok || old.site != s {
			writeJSON(w, http.StatusBadRequest, oauthError("invalid_grant", ""))
			return
		}
		// Rotation: the used refresh token dies now, as Thinkific's do.
		delete(d.refresh, req.RefreshToken)
		g = old
	default:
		writeJSON(w, http.StatusBadRequest, oauthError("unsupported_grant_type", ""))
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, d.issue(g))
}

func (d *Double) clientAuthenticated(r *http.Request) bool {
	id, secret, ok := r.BasicAuth()
	return ok && id == d.cfg.ClientID &&
		subtle.ConstantTimeCompare([]byte(secret), []byte(d.cfg.ClientSecret)) == 1
}

// redeemCode checks and consumes a code. A failed check leaves the code usable, so one
// bad verifier does not cost the test its code. Callers hold d.mu.
func (d *Double) redeemCode(s *Site, req tokenRequest) (*authCode, bool) {
	c, ok := d.codes[req.Code]
	switch {
	case req.Code == "" || !ok || c.site != s:
		return nil, false
	case !d.cfg.Now().Before(c.expires):
		delete(d.codes, req.Code)
		return nil, false
	case req.RedirectURI != "" && req.RedirectURI != c.redirectURI:
		return nil, false
	case c.challenge != "" && !verifierMatches(req.CodeVerifier, c.challenge):
		return nil, false
	}
	delete(d.codes, req.Code)
	return c, true
}

func verifierMatches(verifier, challenge string) bool {
	if verifier == "" {
		return false
	}
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:]) == challenge
}

// issue mints a token pair. A new admin pair replaces the site's previous admin refresh
// token; a student pair never touches the admin one. Callers hold d.mu.
func (d *Double) issue(g grant) tokenResponse {
	access, refresh := randomToken(), randomToken()
	d.access[access] = &accessToken{grant: g, expires: d.cfg.Now().Add(d.cfg.AccessTokenTTL)}
	d.refresh[refresh] = g
	s := g.site
	if !g.student {
		delete(d.refresh, s.refresh)
		s.access, s.refresh = access, refresh
	}
	s.tokenGrants++
	return tokenResponse{
		AccessToken: access, TokenType: "bearer", ExpiresIn: int(d.cfg.AccessTokenTTL / time.Second),
		RefreshToken: refresh, GID: s.gid,
	}
}
