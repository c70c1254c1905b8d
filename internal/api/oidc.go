package api

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/shp-dev/shp/internal/config"
	"github.com/shp-dev/shp/internal/service"
)

// OIDCVerifier verifies OAuth 2.0 bearer tokens (JWTs) issued by an
// OpenID Connect provider: the signature against the provider's JWKS
// (fetched again when a token names a new key, so keys may rotate), the
// issuer, the audience, exp and nbf within the configured clock skew.
// The caller's role comes from a claim, mapped by configuration.
type OIDCVerifier struct {
	verifier *oidc.IDTokenVerifier
	cfg      config.OIDC
	now      func() time.Time
}

// NewOIDCVerifier reads the issuer's discovery document and returns a
// verifier for its tokens.
func NewOIDCVerifier(ctx context.Context, cfg config.OIDC) (*OIDCVerifier, error) {
	provider, err := oidc.NewProvider(ctx, cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("oidc issuer %s: %w", cfg.Issuer, err)
	}
	v := &OIDCVerifier{cfg: cfg, now: time.Now}
	// go-oidc checks exp against Now: shifting it back by the skew allows
	// that much lateness, no more. nbf is checked below with the same
	// skew (go-oidc's own allowance is five minutes).
	v.verifier = provider.VerifierContext(context.WithoutCancel(ctx), &oidc.Config{ClientID: cfg.Audience,
		Now: func() time.Time { return v.now().Add(-cfg.ClockSkew) }})
	return v, nil
}

// Errors of token verification; each wraps ErrInvalidToken.
var (
	ErrInvalidToken     = errors.New("invalid token")
	ErrTokenNotYetValid = fmt.Errorf("%w: not valid yet (nbf)", ErrInvalidToken)
	ErrNoRole           = fmt.Errorf("%w: it carries no role this API knows", ErrInvalidToken)
)

// Verify implements TokenVerifier.
func (v *OIDCVerifier) Verify(ctx context.Context, raw string) (service.Principal, error) {
	tok, err := v.verifier.Verify(ctx, raw)
	if err != nil {
		return service.Principal{}, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	var claims map[string]any
	if err := tok.Claims(&claims); err != nil {
		return service.Principal{}, fmt.Errorf("%w: claims: %w", ErrInvalidToken, err)
	}
	if nbf, ok := claims["nbf"].(float64); ok {
		if v.now().Add(v.cfg.ClockSkew).Before(time.Unix(int64(nbf), 0)) {
			return service.Principal{}, ErrTokenNotYetValid
		}
	}
	return ClaimsPrincipal(v.cfg, tok.Subject, claims)
}

// ClaimsPrincipal is the caller a verified token's claims name: the
// verified email or else the subject, with the strongest role the roles
// claim grants (ErrNoRole when none). The web UI's sign-in maps its ID
// tokens with it too.
func ClaimsPrincipal(cfg config.OIDC, subject string, claims map[string]any) (service.Principal, error) {
	claim := cfg.RolesClaim
	if claim == "" {
		claim = config.DefaultRolesClaim
	}
	role := roleOf(cfg, claims[claim])
	if role == "" {
		return service.Principal{}, fmt.Errorf("%w (claim %q)", ErrNoRole, claim)
	}
	name := subject
	if email, ok := claims["email"].(string); ok && email != "" && claims["email_verified"] == true {
		name = email
	}
	return service.Principal{Name: "oidc:" + name, Role: role}, nil
}

// roleOf maps a roles claim (a string or a list of strings) to the
// strongest role it grants: through the role map, or, when there is none,
// by the values that are roles' names.
func roleOf(cfg config.OIDC, claim any) service.Role {
	var values []string
	switch c := claim.(type) {
	case string:
		values = []string{c}
	case []any:
		for _, x := range c {
			if s, ok := x.(string); ok {
				values = append(values, s)
			}
		}
	}
	var best service.Role
	for _, val := range values {
		r, ok := cfg.RoleMap[val]
		if !ok && len(cfg.RoleMap) == 0 {
			r = val // without a role map, a value that is a role's name grants it
		}
		role, err := service.ParseRole(r)
		if err == nil && (best == "" || role.Allows(best)) {
			best = role
		}
	}
	return best
}
