package service

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/shp-dev/shp/internal/config"
	"github.com/shp-dev/shp/internal/metadata"
)

// Role is what a caller may do: a viewer reads, an operator also triggers
// runs and decides healing actions, an admin also manages rules, keys and
// configuration.
type Role string

// Roles, weakest first.
const (
	Viewer   Role = "viewer"
	Operator Role = "operator"
	Admin    Role = "admin"
)

// roleRank orders the roles as config.Roles lists them, from 1.
var roleRank = func() map[Role]int {
	m := map[Role]int{}
	for i, r := range config.Roles {
		m[Role(r)] = i + 1
	}
	return m
}()

// ParseRole checks a role's name.
func ParseRole(s string) (Role, error) {
	r := Role(strings.ToLower(s))
	if roleRank[r] == 0 {
		return "", invalid("role", "%q is not a role (viewer, operator, admin)", s)
	}
	return r, nil
}

// Allows reports whether the role includes what the required role may do.
func (r Role) Allows(required Role) bool { return roleRank[r] >= roleRank[required] && roleRank[r] > 0 }

// Principal is an authenticated caller.
type Principal struct {
	// Name identifies the caller in the audit log: "key:ID (name)" or the
	// token's subject.
	Name string
	Role Role
	// KeyID is the API key's id ("" for a token), for rate limits.
	KeyID string
}

// Errors of API key authentication; none says which part of the key was
// wrong.
var (
	ErrBadKey     = errors.New("invalid API key")
	ErrKeyRevoked = errors.New("API key revoked")
	ErrKeyExpired = errors.New("API key expired")
)

// KeyPrefix starts every shp API key.
const KeyPrefix = "shp_"

// APIKeyView is an API key without its secret.
type APIKeyView struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Role      Role       `json:"role"`
	CreatedBy string     `json:"created_by"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at"`
	LastUsed  *time.Time `json:"last_used_at"`
	Revoked   *time.Time `json:"revoked_at"`
}

func keyView(k metadata.APIKey) APIKeyView {
	return APIKeyView{ID: k.ID, Name: k.Name, Role: Role(k.Role), CreatedBy: k.CreatedBy, CreatedAt: k.CreatedAt.UTC(),
		ExpiresAt: timePtr(k.ExpiresAt), LastUsed: timePtr(k.LastUsed), Revoked: timePtr(k.Revoked)}
}

func hashSecret(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

// UnsafeTextRune reports whether r must not reach a terminal as it is:
// ASCII and C1 control characters (tab and newline included) and the
// Unicode bidirectional embeddings, overrides and isolates.
func UnsafeTextRune(r rune) bool {
	return r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f) ||
		(r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069)
}

// CreateKey makes an API key for a role, valid for ttl (0 for no expiry).
// The key is returned once; the store keeps only its hash.
func (s *Service) CreateKey(ctx context.Context, name string, role Role, ttl time.Duration, by string) (string, APIKeyView, error) {
	if name == "" || len(name) > 100 {
		return "", APIKeyView{}, invalid("name", "must have 1 to 100 characters")
	}
	if strings.ContainsFunc(name, UnsafeTextRune) || !utf8.ValidString(name) {
		return "", APIKeyView{}, invalid("name", "must be valid UTF-8 with no control characters or bidirectional overrides")
	}
	if roleRank[role] == 0 {
		return "", APIKeyView{}, invalid("role", "%q is not a role (viewer, operator, admin)", role)
	}
	if ttl < 0 {
		return "", APIKeyView{}, invalid("expires_in", "must not be negative")
	}
	var idb [8]byte
	var secret [32]byte
	if _, err := rand.Read(idb[:]); err != nil {
		return "", APIKeyView{}, err
	}
	if _, err := rand.Read(secret[:]); err != nil {
		return "", APIKeyView{}, err
	}
	id := hex.EncodeToString(idb[:])
	sec := base64.RawURLEncoding.EncodeToString(secret[:])
	k := metadata.APIKey{ID: id, Name: name, Role: string(role), Hash: hashSecret(sec), CreatedBy: by, CreatedAt: s.now()}
	if ttl > 0 {
		k.ExpiresAt = k.CreatedAt.Add(ttl)
	}
	if err := s.Store.CreateAPIKey(ctx, k); err != nil {
		return "", APIKeyView{}, err
	}
	return KeyPrefix + id + "_" + sec, keyView(k), nil
}

// Keys lists the API keys, newest first.
func (s *Service) Keys(ctx context.Context) ([]APIKeyView, error) {
	ks, err := s.Store.ListAPIKeys(ctx)
	if err != nil {
		return nil, err
	}
	out := []APIKeyView{}
	for _, k := range ks {
		out = append(out, keyView(k))
	}
	return out, nil
}

// RevokeKey revokes an API key from now on.
func (s *Service) RevokeKey(ctx context.Context, id string) error {
	err := notFound(s.Store.RevokeAPIKey(ctx, id, s.now()))
	s.forgetKey(id)
	return err
}

// keyCacheTTL is how long a key read from the store is used without
// reading it again: a key revoked by another process (shp apikey revoke)
// stops working within it; one revoked through this service at once.
const keyCacheTTL = time.Second

type cachedKey struct {
	key  metadata.APIKey
	read time.Time
}

// apiKey reads a key, from the cache when it was read within keyCacheTTL.
// A read that a revocation through this service overtook is not cached.
func (s *Service) apiKey(ctx context.Context, id string) (metadata.APIKey, error) {
	if v, ok := s.keys.Load(id); ok {
		if c := v.(cachedKey); time.Since(c.read) < keyCacheTTL {
			return c.key, nil
		}
	}
	gen := s.keyGen.Load()
	k, err := s.Store.GetAPIKey(ctx, id)
	if err == nil {
		s.cacheKey(k, gen)
	}
	return k, err
}

// cacheKey keeps a key read when the cache was at generation gen, unless
// a forgetKey came between.
func (s *Service) cacheKey(k metadata.APIKey, gen int64) {
	s.keyMu.Lock()
	defer s.keyMu.Unlock()
	if s.keyGen.Load() == gen {
		s.keys.Store(k.ID, cachedKey{key: k, read: time.Now()})
	}
}

// forgetKey drops a key from the cache, and keeps reads that started
// before from putting it back.
func (s *Service) forgetKey(id string) {
	s.keyMu.Lock()
	s.keyGen.Add(1)
	s.keys.Delete(id)
	s.keyMu.Unlock()
}

// touchEvery bounds how often a key's last use is written: at most once
// a minute per key, so that reads do not become writes.
const touchEvery = time.Minute

// Authenticate checks an API key and returns its principal. The secret is
// compared by its hash in constant time.
func (s *Service) Authenticate(ctx context.Context, key string) (Principal, error) {
	rest, ok := strings.CutPrefix(key, KeyPrefix)
	if !ok {
		return Principal{}, ErrBadKey
	}
	id, secret, ok := strings.Cut(rest, "_")
	if !ok || id == "" || secret == "" {
		return Principal{}, ErrBadKey
	}
	gen := s.keyGen.Load()
	k, err := s.apiKey(ctx, id)
	if errors.Is(err, metadata.ErrNotFound) {
		return Principal{}, ErrBadKey
	}
	if err != nil {
		return Principal{}, fmt.Errorf("authenticate: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(hashSecret(secret)), []byte(k.Hash)) != 1 {
		return Principal{}, ErrBadKey
	}
	now := s.now()
	switch {
	case !k.Revoked.IsZero():
		return Principal{}, ErrKeyRevoked
	case !k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt):
		return Principal{}, ErrKeyExpired
	}
	if now.Sub(k.LastUsed) >= touchEvery {
		// Bookkeeping: a failure to record the use is logged, and the
		// caller is let in.
		if err := s.Store.TouchAPIKey(ctx, id, now); err != nil {
			s.logger().Warn("record the use of an API key", "key", id, "err", err)
		} else {
			k.LastUsed = now
			s.cacheKey(k, gen)
		}
	}
	return Principal{Name: "key:" + k.ID + " (" + k.Name + ")", Role: Role(k.Role), KeyID: k.ID}, nil
}

// AuditView is one audited API write, or an aggregate of refused
// anonymous ones: Count of them from At to LastAt, from one address (or
// "*" for the addresses beyond the per-window cap) for one Reason.
type AuditView struct {
	ID        int64     `json:"id"`
	At        time.Time `json:"at"`
	Principal string    `json:"principal"`
	Role      string    `json:"role"`
	Method    string    `json:"method"`
	Path      string    `json:"path"`
	Status    int       `json:"status"`
	Remote    string    `json:"remote"`
	// Reason says why a refused request was refused ("" when not said).
	Reason string `json:"reason"`
	// Count is how many requests the entry stands for.
	Count int `json:"count"`
	// LastAt is when the last of them came (null for one request).
	LastAt *time.Time `json:"last_at"`
}

// Which callers' entries an audit listing shows (AuditQuery.Anonymous).
const (
	// AnonymousExclude shows authenticated callers' entries only, so
	// that refused anonymous requests cannot push them out of a page.
	AnonymousExclude = "exclude"
	// AnonymousInclude shows every entry.
	AnonymousInclude = "include"
	// AnonymousOnly shows the aggregated anonymous entries only.
	AnonymousOnly = "only"
)

// AnonymousValues are AuditQuery.Anonymous's values.
var AnonymousValues = []string{AnonymousExclude, AnonymousInclude, AnonymousOnly}

// AuditQuery selects audit entries.
type AuditQuery struct {
	// Anonymous is one of AnonymousValues; "" is AnonymousExclude.
	Anonymous string
	// Limit is how many at most, 1 to MaxPageSize.
	Limit int
}

// RecordAudit stores one audited API request.
func (s *Service) RecordAudit(ctx context.Context, e metadata.AuditEntry) error {
	return s.Store.RecordAudit(ctx, e)
}

// AddAudit stores one audit entry that stands for several requests (an
// aggregate of refused anonymous ones) and returns its id, by which
// CountAudit counts the requests that follow.
func (s *Service) AddAudit(ctx context.Context, e metadata.AuditEntry) (int64, error) {
	return s.Store.AddAudit(ctx, e)
}

// CountAudit sets how many requests the aggregated entry id stands for,
// and when the last of them came.
func (s *Service) CountAudit(ctx context.Context, id int64, count int, last time.Time) error {
	return s.Store.CountAudit(ctx, id, count, last)
}

// PruneAudit deletes the audit entries made before before (none when it
// is zero) and the anonymous ones beyond the newest keepAnonymous, and
// says how many it deleted.
func (s *Service) PruneAudit(ctx context.Context, before time.Time, keepAnonymous int) (int64, error) {
	return s.Store.PruneAudit(ctx, before, keepAnonymous)
}

// Audit lists the latest audit entries, newest first.
func (s *Service) Audit(ctx context.Context, q AuditQuery) ([]AuditView, error) {
	if q.Limit < 1 || q.Limit > MaxPageSize {
		return nil, invalid("limit", "must be from 1 to %d, got %d", MaxPageSize, q.Limit)
	}
	callers := metadata.AuditAuthenticated
	switch q.Anonymous {
	case "", AnonymousExclude:
	case AnonymousInclude:
		callers = metadata.AuditAllCallers
	case AnonymousOnly:
		callers = metadata.AuditAnonymous
	default:
		return nil, invalid("anonymous", "must be one of %s, got %q", strings.Join(AnonymousValues, ", "), q.Anonymous)
	}
	es, err := s.Store.QueryAudit(ctx, metadata.AuditQuery{Callers: callers, Limit: q.Limit})
	if err != nil {
		return nil, err
	}
	out := []AuditView{}
	for _, e := range es {
		out = append(out, AuditView{ID: e.ID, At: e.At.UTC(), Principal: e.Principal, Role: e.Role, Method: e.Method, Path: e.Path,
			Status: e.Status, Remote: e.Remote, Reason: e.Detail, Count: max(e.Count, 1), LastAt: timePtr(e.LastAt)})
	}
	return out, nil
}
