package service

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/shp-dev/shp/internal/metadata"
)

// TestRoles: role names in any case; each role includes the weaker ones.
func TestRoles(t *testing.T) {
	for _, tc := range []struct {
		name string
		role Role
		want string
	}{
		{"viewer", Viewer, ""},
		{"Operator", Operator, ""},
		{"ADMIN", Admin, ""},
		{"root", "", "field:role"},
		{"", "", "field:role"},
	} {
		r, err := ParseRole(tc.name)
		wantErr(t, err, tc.want)
		if r != tc.role {
			t.Errorf("ParseRole(%q) = %q, want %q", tc.name, r, tc.role)
		}
	}
	for _, tc := range []struct {
		role, required Role
		allows         bool
	}{
		{Viewer, Viewer, true},
		{Viewer, Operator, false},
		{Operator, Viewer, true},
		{Operator, Admin, false},
		{Admin, Operator, true},
		{"root", "", false},
		{"", "", false},
	} {
		if got := tc.role.Allows(tc.required); got != tc.allows {
			t.Errorf("%q.Allows(%q) = %v", tc.role, tc.required, got)
		}
	}
}

// TestCreateKey: a key for a role with an optional expiry, shown once;
// names must be printable text, roles known, expiries not negative.
func TestCreateKey(t *testing.T) {
	for _, tc := range []struct {
		label string
		name  string
		role  Role
		ttl   time.Duration
		want  string
	}{
		{"a key", "ci", Operator, 0, ""},
		{"a key that expires", "ci", Viewer, time.Hour, ""},
		{"no name", "", Viewer, 0, "field:name"},
		{"too long a name", strings.Repeat("k", 101), Viewer, 0, "field:name"},
		{"a control character", "ci\x1b[2J", Viewer, 0, "field:name"},
		{"a bidirectional override", "ci\u202e", Viewer, 0, "field:name"},
		{"not UTF-8", "ci\xff", Viewer, 0, "field:name"},
		{"an unknown role", "ci", "root", 0, "field:role"},
		{"a negative expiry", "ci", Viewer, -time.Second, "field:expires_in"},
	} {
		t.Run(tc.label, func(t *testing.T) {
			f := newFixture(t, nil)
			key, v, err := f.svc.CreateKey(f.ctx, tc.name, tc.role, tc.ttl, "admin")
			wantErr(t, err, tc.want)
			keys, _ := f.svc.Keys(f.ctx)
			if tc.want != "" {
				if len(keys) != 0 {
					t.Fatalf("a refused key was stored: %+v", keys)
				}
				return
			}
			if !strings.HasPrefix(key, KeyPrefix+v.ID+"_") || v.Role != tc.role || v.CreatedBy != "admin" || !v.CreatedAt.Equal(f.now) ||
				(v.ExpiresAt != nil) != (tc.ttl > 0) || len(keys) != 1 || keys[0].ID != v.ID {
				t.Fatalf("key %q %+v, listed %+v", key, v, keys)
			}
			stored, _ := f.store.GetAPIKey(f.ctx, v.ID)
			if strings.Contains(key, stored.Hash) || stored.Hash != hashSecret(strings.TrimPrefix(key, KeyPrefix+v.ID+"_")) {
				t.Fatal("the store does not keep the secret's hash alone")
			}
		})
	}
}

// touchFails is a store that cannot record a key's use, or read keys at
// all when down.
type touchFails struct {
	Store
	down bool
}

func (touchFails) TouchAPIKey(context.Context, string, time.Time) error {
	return errors.New("read-only")
}

func (s touchFails) GetAPIKey(ctx context.Context, id string) (metadata.APIKey, error) {
	if s.down {
		return metadata.APIKey{}, errors.New("connection refused")
	}
	return s.Store.GetAPIKey(ctx, id)
}

// TestAuthenticate: a key lets its caller in with its role until it is
// revoked or expires; a malformed, unknown or wrong key does not, and
// none says which part was wrong. Its use is recorded at most once a
// minute.
func TestAuthenticate(t *testing.T) {
	f := newFixture(t, nil)
	key, v, err := f.svc.CreateKey(f.ctx, "ci", Operator, 2*time.Hour, "admin")
	f.must(err)
	for _, tc := range []struct {
		name string
		key  string
		want error
	}{
		{"the key", key, nil},
		{"no prefix", strings.TrimPrefix(key, KeyPrefix), ErrBadKey},
		{"no secret", KeyPrefix + v.ID, ErrBadKey},
		{"an empty id", KeyPrefix + "_secret", ErrBadKey},
		{"an unknown id", KeyPrefix + "0000000000000000_secret", ErrBadKey},
		{"a wrong secret", key + "x", ErrBadKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := f.svc.Authenticate(f.ctx, tc.key)
			if !errors.Is(err, tc.want) || err != nil && tc.want == nil {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			if tc.want == nil && (p.Role != Operator || p.KeyID != v.ID || p.Name != "key:"+v.ID+" (ci)") {
				t.Fatalf("principal %+v", p)
			}
		})
	}
	stored, _ := f.store.GetAPIKey(f.ctx, v.ID)
	if !stored.LastUsed.Equal(f.now) {
		t.Fatalf("the key's use is not recorded: %v", stored.LastUsed)
	}
	// Within a minute, a use is not written again.
	f.now = f.now.Add(30 * time.Second)
	if _, err := f.svc.Authenticate(f.ctx, key); err != nil {
		t.Fatal(err)
	}
	if stored, _ := f.store.GetAPIKey(f.ctx, v.ID); !stored.LastUsed.Equal(f.now.Add(-30 * time.Second)) {
		t.Fatalf("a use within a minute was written: %v", stored.LastUsed)
	}

	// A key revoked through the service stops at once.
	f.must(f.svc.RevokeKey(f.ctx, v.ID))
	if _, err := f.svc.Authenticate(f.ctx, key); !errors.Is(err, ErrKeyRevoked) {
		t.Fatalf("a revoked key: %v", err)
	}
	wantErr(t, f.svc.RevokeKey(f.ctx, "nope"), "not found")

	// A key past its expiry does not pass.
	key2, _, err := f.svc.CreateKey(f.ctx, "short", Viewer, time.Minute, "admin")
	f.must(err)
	f.now = f.now.Add(2 * time.Minute)
	if _, err := f.svc.Authenticate(f.ctx, key2); !errors.Is(err, ErrKeyExpired) {
		t.Fatalf("an expired key: %v", err)
	}

	// Bookkeeping that fails lets the caller in; a store that is down
	// does not.
	key3, _, err := f.svc.CreateKey(f.ctx, "ro", Admin, 0, "admin")
	f.must(err)
	ro := &Service{Project: f.svc.Project, Store: touchFails{Store: f.store}}
	if p, err := ro.Authenticate(f.ctx, key3); err != nil || p.Role != Admin {
		t.Fatalf("a key whose use cannot be recorded: %+v %v", p, err)
	}
	down := &Service{Project: f.svc.Project, Store: touchFails{Store: f.store, down: true}}
	if _, err := down.Authenticate(f.ctx, key3); err == nil || errors.Is(err, ErrBadKey) || !strings.HasPrefix(err.Error(), "authenticate:") {
		t.Fatalf("a store that is down: %v", err)
	}
}

// TestAudit: audited requests newest first; refused anonymous ones are
// aggregates, listed apart; entries are pruned by age.
func TestAudit(t *testing.T) {
	f := newFixture(t, nil)
	at := day(20)
	f.must(f.svc.RecordAudit(f.ctx, metadata.AuditEntry{At: at, Principal: "key:1 (ci)", Role: "operator", Method: "POST",
		Path: "/api/v1/pipelines/orders/run", Status: 202, Remote: "10.0.0.1"}))
	id, err := f.svc.AddAudit(f.ctx, metadata.AuditEntry{At: at.Add(time.Minute), Principal: metadata.AnonymousPrincipal, Method: "POST",
		Path: "/api/v1/keys", Status: 401, Remote: "10.0.0.9", Detail: "no credential"})
	f.must(err)
	f.must(f.svc.CountAudit(f.ctx, id, 7, at.Add(2*time.Minute)))
	for _, tc := range []struct {
		name string
		q    AuditQuery
		want string // principals, newest first
		err  string
	}{
		{"authenticated callers by default", AuditQuery{Limit: 10}, "key:1 (ci)", ""},
		{"excluding anonymous callers", AuditQuery{Anonymous: AnonymousExclude, Limit: 10}, "key:1 (ci)", ""},
		{"every caller", AuditQuery{Anonymous: AnonymousInclude, Limit: 10}, "anonymous,key:1 (ci)", ""},
		{"anonymous callers only", AuditQuery{Anonymous: AnonymousOnly, Limit: 10}, "anonymous", ""},
		{"an unknown choice", AuditQuery{Anonymous: "some", Limit: 10}, "", "field:anonymous"},
		{"no limit", AuditQuery{}, "", "field:limit"},
		{"too large a limit", AuditQuery{Limit: MaxPageSize + 1}, "", "field:limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			es, err := f.svc.Audit(f.ctx, tc.q)
			wantErr(t, err, tc.err)
			var who []string
			for _, e := range es {
				who = append(who, e.Principal)
			}
			if strings.Join(who, ",") != tc.want {
				t.Fatalf("entries of %v, want %s", who, tc.want)
			}
		})
	}
	anon, _ := f.svc.Audit(f.ctx, AuditQuery{Anonymous: AnonymousOnly, Limit: 1})
	if len(anon) != 1 || anon[0].Count != 7 || anon[0].LastAt == nil || anon[0].Reason != "no credential" {
		t.Fatalf("the aggregate %+v", anon)
	}
	n, err := f.svc.PruneAudit(f.ctx, at.Add(30*time.Second), 0)
	if err != nil || n != 1 {
		t.Fatalf("pruned %d, %v", n, err)
	}
}

// TestUnsafeTextRune: control characters and bidirectional controls are
// unsafe for a terminal, printable text is not.
func TestUnsafeTextRune(t *testing.T) {
	for _, r := range []rune{'\t', '\n', 0x1b, 0x7f, 0x85, 0x202e, 0x2066} {
		if !UnsafeTextRune(r) {
			t.Errorf("%U is safe", r)
		}
	}
	for _, r := range []rune{'a', ' ', 'é', '€', 0x200f} {
		if UnsafeTextRune(r) {
			t.Errorf("%U is unsafe", r)
		}
	}
}
