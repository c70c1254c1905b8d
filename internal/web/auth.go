package web

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/shp-dev/shp/internal/config"
	"github.com/shp-dev/shp/internal/service"
)

// OIDCLogin signs people in through an OpenID Connect provider with the
// authorization-code flow and PKCE (S256): state and nonce against forged
// callbacks and replayed tokens, the ID token verified against the
// provider's keys, the role mapped from its claims as the API maps its
// bearer tokens' (api.ClaimsPrincipal).
type OIDCLogin struct {
	oauth    oauth2.Config
	verifier *oidc.IDTokenVerifier
	// principal maps a verified ID token's subject and claims to a
	// caller.
	principal func(subject string, claims map[string]any) (service.Principal, error)
	// Name is the provider's name on the sign-in button.
	Name string
}

// NewOIDCLogin reads the provider's discovery document. The client is
// cfg.ClientID (cfg.Audience when empty), its secret read from the
// environment variable cfg.ClientSecretEnv (none for a public client);
// principal maps the verified claims (api.ClaimsPrincipal).
func NewOIDCLogin(ctx context.Context, cfg config.OIDC, principal func(subject string, claims map[string]any) (service.Principal, error)) (*OIDCLogin, error) {
	if cfg.RedirectURL == "" {
		return nil, errors.New("oidc sign-in: api.oidc.redirect_url is not set")
	}
	provider, err := oidc.NewProvider(ctx, cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("oidc sign-in: issuer %s: %w", cfg.Issuer, err)
	}
	client := cfg.ClientID
	if client == "" {
		client = cfg.Audience
	}
	var secret string
	if cfg.ClientSecretEnv != "" {
		if secret = os.Getenv(cfg.ClientSecretEnv); secret == "" {
			return nil, fmt.Errorf("oidc sign-in: the environment variable %s (api.oidc.client_secret_env) is empty", cfg.ClientSecretEnv)
		}
	}
	name := "OpenID Connect"
	if u, err := url.Parse(cfg.Issuer); err == nil && u.Host != "" {
		name = u.Hostname()
	}
	return &OIDCLogin{
		oauth: oauth2.Config{ClientID: client, ClientSecret: secret, Endpoint: provider.Endpoint(),
			RedirectURL: cfg.RedirectURL, Scopes: []string{oidc.ScopeOpenID, "profile", "email"}},
		verifier:  provider.VerifierContext(context.WithoutCancel(ctx), &oidc.Config{ClientID: client}),
		principal: principal,
		Name:      name,
	}, nil
}

// flowCookie keeps a sign-in's state, nonce and PKCE verifier between the
// redirect to the provider and its callback. It is SameSite=Lax: the
// callback is a navigation from the provider's site.
const flowCookie = "shp_oidc_flow"

// flowTTL bounds how long a person may take at the provider.
const flowTTL = 10 * time.Minute

// loginCookie keeps the sign-in form's CSRF token in the browser that was
// shown the form: HttpOnly, Secure, SameSite=Strict, for /login only, for
// loginTTL. The form echoes it in its csrf field; a sign-in whose field
// does not match the cookie is refused. A page of another site can send
// neither (CrossOriginProtection alone lets a request through that
// carries no Origin and no Sec-Fetch-Site), so it cannot sign a browser
// in with a key of its choosing.
const loginCookie = "shp_login"

// loginTTL bounds how long a sign-in form may wait to be sent.
const loginTTL = time.Hour

type loginData struct {
	Next, Error, Provider string
	// CSRF is the form's token (loginCookie's value).
	CSRF     string
	Insecure bool
}

// loginToken returns the browser's sign-in token and (re)sets its cookie:
// the one the browser has, so that two tabs with the form can both sign
// in, or a fresh one.
func loginToken(w http.ResponseWriter, r *http.Request) string {
	token := ""
	if c, err := r.Cookie(loginCookie); err == nil && validLoginToken(c.Value) {
		token = c.Value
	} else {
		token = rand.Text()
	}
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: token, Path: "/login", MaxAge: int(loginTTL.Seconds()),
		HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode})
	return token
}

// validLoginToken reports whether s looks like a token loginToken makes
// (rand.Text: 26 characters of base32).
func validLoginToken(s string) bool {
	if len(s) < 26 || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if (c < 'A' || c > 'Z') && (c < '2' || c > '7') {
			return false
		}
	}
	return true
}

// loginTokenOK reports whether a sign-in carries its form's token: the
// csrf field equal to the loginCookie the form's page set.
func loginTokenOK(r *http.Request) bool {
	c, err := r.Cookie(loginCookie)
	if err != nil || !validLoginToken(c.Value) {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(r.PostFormValue(csrfField)), []byte(c.Value)) == 1
}

// loginPage shows the sign-in form: an API key, or the provider's button.
func (u *UI) loginPage(w http.ResponseWriter, r *http.Request) {
	u.renderLogin(w, r, http.StatusOK, "")
}

func (u *UI) renderLogin(w http.ResponseWriter, r *http.Request, status int, msg string) {
	d := loginData{Next: localPath(r.FormValue("next")), Error: msg, Insecure: !secureContext(r), CSRF: loginToken(w, r)}
	if u.OIDC != nil {
		d.Provider = u.OIDC.Name
	}
	w.Header().Set("Cache-Control", "no-store")
	u.render(w, r, status, "login", "Sign in", d)
}

// badKeyText is all a sign-in with a key that is not valid says, whether
// the key is unknown, mistyped, revoked or expired: the server's log
// says which.
const badKeyText = "That key is not valid: it may be mistyped, revoked or expired."

// login signs in with an API key pasted into the form.
func (u *UI) login(w http.ResponseWriter, r *http.Request) {
	if !secureContext(r) {
		u.renderLogin(w, r, http.StatusBadRequest, "Signing in needs HTTPS (or this machine): the session cookie is Secure.")
		return
	}
	if !loginTokenOK(r) {
		// Debug: nothing bounds how often this is tried.
		u.logger().Debug("web: sign-in refused: missing or wrong sign-in token", "client", u.clientAddr(r))
		u.renderLogin(w, r, http.StatusForbidden, "This sign-in form expired or was not sent from this browser's sign-in page; sign in again.")
		return
	}
	if u.locked(r) {
		w.Header().Set("Retry-After", "6")
		u.renderLogin(w, r, http.StatusTooManyRequests, "Too many failed sign-ins from this address; wait a little.")
		return
	}
	key := strings.TrimSpace(r.PostFormValue("key"))
	if key == "" {
		u.renderLogin(w, r, http.StatusBadRequest, "Paste an API key (shp_...): shp apikey create --name NAME --role viewer makes one.")
		return
	}
	p, err := u.Service.Authenticate(r.Context(), key)
	switch {
	case errors.Is(err, service.ErrBadKey), errors.Is(err, service.ErrKeyRevoked), errors.Is(err, service.ErrKeyExpired):
		u.allowFailure(r)
		// Failed sign-ins are audited (their number is bounded by the
		// limit above); the key is not.
		u.audit(r, service.Principal{}, http.StatusUnauthorized, "sign-in: "+err.Error())
		attrs := []any{"reason", err.Error(), "client", u.clientAddr(r)}
		if !errors.Is(err, service.ErrBadKey) {
			// A revoked or expired key is a real one: its id (not its
			// secret) says which.
			attrs = append(attrs, "key_id", keyID(key))
		}
		u.logger().Info("web: sign-in refused", attrs...)
		u.renderLogin(w, r, http.StatusUnauthorized, badKeyText)
		return
	case err != nil:
		u.logger().Error("web: sign in", "err", err)
		u.renderLogin(w, r, http.StatusServiceUnavailable, "Keys cannot be checked now; try again shortly.")
		return
	}
	u.signIn(w, r, p, localPath(r.PostFormValue("next")), false)
}

// keyID is the id part of an API key (shp_ID_SECRET), never its secret.
func keyID(key string) string {
	rest, _ := strings.CutPrefix(key, service.KeyPrefix)
	id, _, _ := strings.Cut(rest, "_")
	return id
}

// locked reports whether the client address has no failed sign-in left.
func (u *UI) locked(r *http.Request) bool {
	u.failMu.Lock()
	defer u.failMu.Unlock()
	l := u.failures[u.clientAddr(r)]
	return l != nil && l.Tokens() < 1
}

// signIn opens a session for p and sends the browser on to next. After a
// sign-in through the provider the browser comes from another site, and
// a SameSite=Strict cookie would not go with a redirect in that chain: a
// page that moves on by itself starts a navigation of this site's own.
func (u *UI) signIn(w http.ResponseWriter, r *http.Request, p service.Principal, next string, crossSite bool) {
	token, sess, err := u.Service.OpenSession(r.Context(), p, u.ttl())
	if err != nil {
		u.logger().Error("web: open a session", "err", err)
		u.renderLogin(w, r, http.StatusServiceUnavailable, "A session cannot be opened now; try again shortly.")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: token, Path: "/", Expires: sess.ExpiresAt,
		MaxAge: int(min(u.ttl(), time.Until(sess.ExpiresAt)).Seconds()), HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode})
	u.logger().Info("web: signed in", "principal", p.Name, "role", p.Role)
	if crossSite {
		w.Header().Set("Cache-Control", "no-store")
		u.render(w, r, http.StatusOK, "continue", "Signed in", struct{ Next string }{next})
		return
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// logout ends the session.
func (u *UI) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		if err := u.Service.CloseSession(r.Context(), c.Value); err != nil {
			u.logger().Warn("web: close a session", "err", err)
		}
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: true,
		SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// oidcStart sends the browser to the provider with a fresh state, nonce
// and PKCE challenge, and keeps them in a short-lived cookie.
func (u *UI) oidcStart(w http.ResponseWriter, r *http.Request) {
	if u.OIDC == nil {
		u.errorPage(w, r, http.StatusNotFound, "Sign-in through OpenID Connect is not configured (api.oidc.redirect_url).")
		return
	}
	state, nonce, verifier := rand.Text(), rand.Text(), oauth2.GenerateVerifier()
	next := localPath(r.FormValue("next"))
	http.SetCookie(w, &http.Cookie{Name: flowCookie, Value: strings.Join([]string{state, nonce, verifier, url.QueryEscape(next)}, "."),
		Path: "/auth/", MaxAge: int(flowTTL.Seconds()), HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode})
	dest := u.OIDC.oauth.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier))
	http.Redirect(w, r, dest, http.StatusFound)
}

// oidcCallback takes the provider's answer: the state must be the one
// sent, the code is exchanged with the PKCE verifier, the ID token
// verified and its nonce checked.
func (u *UI) oidcCallback(w http.ResponseWriter, r *http.Request) {
	if u.OIDC == nil {
		u.errorPage(w, r, http.StatusNotFound, "Sign-in through OpenID Connect is not configured (api.oidc.redirect_url).")
		return
	}
	// The flow is used once, whatever happens.
	http.SetCookie(w, &http.Cookie{Name: flowCookie, Value: "", Path: "/auth/", MaxAge: -1, HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode})
	c, err := r.Cookie(flowCookie)
	parts := []string{}
	if err == nil {
		parts = strings.SplitN(c.Value, ".", 4)
	}
	if len(parts) != 4 {
		u.renderLogin(w, r, http.StatusBadRequest, "The sign-in expired or was started elsewhere; start it again.")
		return
	}
	state, nonce, verifier := parts[0], parts[1], parts[2]
	next, _ := url.QueryUnescape(parts[3])
	q := r.URL.Query()
	// The state first: an answer that is not to this sign-in says nothing.
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(state)) != 1 {
		u.renderLogin(w, r, http.StatusBadRequest, "The sign-in's state does not match; start it again.")
		return
	}
	if e := q.Get("error"); e != "" {
		u.renderLogin(w, r, http.StatusUnauthorized, "The provider refused the sign-in: "+clip(e+" "+q.Get("error_description"), 200))
		return
	}
	tok, err := u.OIDC.oauth.Exchange(r.Context(), q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		u.logger().Warn("web: exchange the authorization code", "err", err)
		u.renderLogin(w, r, http.StatusUnauthorized, "The provider did not accept the sign-in's code; start it again.")
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		u.renderLogin(w, r, http.StatusUnauthorized, "The provider sent no ID token.")
		return
	}
	idt, err := u.OIDC.verifier.Verify(r.Context(), raw)
	if err != nil {
		u.logger().Warn("web: verify the ID token", "err", err)
		u.renderLogin(w, r, http.StatusUnauthorized, "The provider's ID token is not valid.")
		return
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(nonce)) != 1 {
		u.renderLogin(w, r, http.StatusUnauthorized, "The ID token was not issued for this sign-in (nonce).")
		return
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		u.renderLogin(w, r, http.StatusUnauthorized, "The ID token's claims cannot be read.")
		return
	}
	p, err := u.OIDC.principal(idt.Subject, claims)
	if err != nil {
		u.renderLogin(w, r, http.StatusForbidden, "Signed in at the provider, but "+err.Error()+".")
		return
	}
	u.signIn(w, r, p, localPath(next), true)
}

// clip shortens s to n bytes at most, at a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
