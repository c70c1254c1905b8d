package api

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/oauth2-proxy/mockoidc"

	"github.com/shp-dev/shp/internal/config"
	"github.com/shp-dev/shp/internal/metadata"
)

// TestOIDCTokens runs a real local OpenID Connect provider: the API reads
// its discovery document and JWKS, and takes its tokens by issuer,
// audience, expiry, not-before and signature, with roles from the groups
// claim; a rotated signing key is picked up.
func TestOIDCTokens(t *testing.T) {
	m, err := mockoidc.Run()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Shutdown() })
	cfg := m.Config()
	oc := config.OIDC{Issuer: cfg.Issuer, Audience: cfg.ClientID, RolesClaim: "groups", ClockSkew: 30 * time.Second,
		RoleMap: map[string]string{"data-eng": "operator", "analysts": "viewer"}}
	v, err := NewOIDCVerifier(context.Background(), oc)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, metadata.KindSQLite, nil)
	e.api.Tokens = v
	// The server's handler was built already; the verifier is read per request.
	now := time.Now()
	token := func(kp *mockoidc.Keypair, mut func(jwt.MapClaims)) string {
		c := jwt.MapClaims{"iss": cfg.Issuer, "aud": cfg.ClientID, "sub": "u-1", "email": "ana@example.com", "email_verified": true,
			"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(), "groups": []string{"analysts", "data-eng"}}
		if mut != nil {
			mut(c)
		}
		s, err := kp.SignJWT(c)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	good := token(m.Keypair, nil)
	code, _, body := e.do("POST", "/api/v1/pipelines/orders/run", good, nil)
	if code != 202 {
		t.Fatalf("a valid operator token: %d %s", code, body)
	}
	audit, _ := e.store.ListAudit(context.Background(), 1)
	if len(audit) != 1 || audit[0].Principal != "oidc:ana@example.com" || audit[0].Role != "operator" {
		t.Fatalf("audit %+v", audit)
	}
	other, err := mockoidc.RandomKeypair(2048)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		token  string
		want   int
		detail string
	}{
		{"expired", token(m.Keypair, func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Minute).Unix() }), 401, "expired"},
		{"expired within the skew", token(m.Keypair, func(c jwt.MapClaims) { c["exp"] = now.Add(-10 * time.Second).Unix() }), 0, ""},
		{"not valid yet", token(m.Keypair, func(c jwt.MapClaims) { c["nbf"] = now.Add(2 * time.Minute).Unix() }), 401, "not valid yet"},
		{"wrong audience", token(m.Keypair, func(c jwt.MapClaims) { c["aud"] = "someone-else" }), 401, "audience"},
		{"wrong issuer", token(m.Keypair, func(c jwt.MapClaims) { c["iss"] = "https://evil.example.com" }), 401, "different provider"},
		{"foreign signature", token(other, nil), 401, "invalid token"},
		{"no known role", token(m.Keypair, func(c jwt.MapClaims) { c["groups"] = []string{"marketing"} }), 401, "no role"},
		{"viewer writes", token(m.Keypair, func(c jwt.MapClaims) { c["groups"] = "analysts" }), 403, "needs the operator role"},
		{"a group named like a role, with a role map", token(m.Keypair, func(c jwt.MapClaims) { c["groups"] = []string{"admin"} }), 401, "no role"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, h, body := e.do("POST", "/api/v1/pipelines/orders/run", tc.token, nil)
			if tc.want == 0 {
				if code != 202 {
					t.Fatalf("want it accepted: %d %s", code, body)
				}
				return
			}
			kind := ProblemUnauthorized
			if tc.want == 403 {
				kind = ProblemForbidden
			}
			if p := e.problem(code, h, body, tc.want, kind); !strings.Contains(p.Detail, tc.detail) {
				t.Errorf("detail %q, want %q", p.Detail, tc.detail)
			}
		})
	}

	// An unverified email does not name the caller.
	unverified := token(m.Keypair, func(c jwt.MapClaims) { c["email_verified"] = false; c["email"] = "boss@example.com" })
	if code, _, body := e.do("POST", "/api/v1/pipelines/orders/run", unverified, nil); code != 202 {
		t.Fatalf("unverified email: %d %s", code, body)
	}
	if audit, _ := e.store.ListAudit(context.Background(), 1); len(audit) != 1 || audit[0].Principal != "oidc:u-1" {
		t.Fatalf("an unverified email named the caller: %+v", audit)
	}
	// Without a role map, a value named like a role grants it.
	bare, err := NewOIDCVerifier(context.Background(), config.OIDC{Issuer: cfg.Issuer, Audience: cfg.ClientID, RolesClaim: "groups"})
	if err != nil {
		t.Fatal(err)
	}
	if p, err := bare.Verify(context.Background(), token(m.Keypair, func(c jwt.MapClaims) { c["groups"] = []string{"viewer", "admin"} })); err != nil || p.Role != "admin" {
		t.Fatalf("role names without a map: %+v %v", p, err)
	}

	// Key rotation: the provider signs with a new key and serves it in its
	// JWKS; the API fetches it when a token names it.
	m.Keypair = other
	if code, _, body := e.do("POST", "/api/v1/pipelines/orders/run", token(other, nil), nil); code != 202 {
		t.Fatalf("a token of the rotated key: %d %s", code, body)
	}
	none := httptest.NewServer(nil)
	defer none.Close()
	if _, err := NewOIDCVerifier(context.Background(), config.OIDC{Issuer: none.URL, Audience: "x"}); err == nil {
		t.Error("an issuer without a discovery document was accepted")
	}
}
