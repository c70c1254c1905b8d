package metadata

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestOpenUnknownKind(t *testing.T) {
	_, err := Open(context.Background(), "mongodb", "x")
	if !errors.Is(err, ErrUnknownKind) || !strings.Contains(err.Error(), `"mongodb"`) || !strings.Contains(err.Error(), "postgres, sqlite") {
		t.Errorf("Open(mongodb) = %v, want ErrUnknownKind naming it and the known kinds", err)
	}
}

func TestRegister(t *testing.T) {
	var gotTarget string
	sentinel := errors.New("opened")
	t.Cleanup(func() { // so that -count=N can register it again
		registry.Lock()
		delete(registry.openers, "test-register")
		registry.Unlock()
	})
	Register("test-register", func(_ context.Context, target string) (Store, error) {
		gotTarget = target
		return nil, sentinel
	})
	if _, err := Open(context.Background(), "test-register", "the-target"); !errors.Is(err, sentinel) || gotTarget != "the-target" {
		t.Errorf("Open of a registered kind = %v with target %q", err, gotTarget)
	}
	if kinds := Kinds(); !slices.Contains(kinds, "test-register") || !slices.IsSorted(kinds) {
		t.Errorf("Kinds() = %v", kinds)
	}

	open := func(context.Context, string) (Store, error) { return nil, nil }
	for _, tc := range []struct {
		name, kind string
		open       Opener
	}{
		{"twice", "test-register", open},
		{"built-in", KindSQLite, open},
		{"empty kind", "", open},
		{"nil opener", "test-nil", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("Register(%q) did not panic", tc.kind)
				}
			}()
			Register(tc.kind, tc.open)
		})
	}
}
