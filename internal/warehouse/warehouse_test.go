package warehouse

import (
	"context"
	"errors"
	"strings"
	"testing"
)

type fake struct{ Warehouse }

func TestRegistry(t *testing.T) {
	Register("fake-test", func(ctx context.Context, opts Options) (Warehouse, error) { return fake{}, nil })
	if w, err := Open(context.Background(), "fake-test", Options{}); err != nil || w == nil {
		t.Fatalf("Open registered kind: %v", err)
	}
	_, err := Open(context.Background(), "nope", Options{})
	if !errors.Is(err, ErrUnknownKind) || !strings.Contains(err.Error(), "fake-test") {
		t.Fatalf("unknown kind error should list known kinds: %v", err)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("registering a kind twice should panic")
		}
	}()
	Register("fake-test", nil)
}

func TestQuarantineSampleDescribe(t *testing.T) {
	tests := []struct {
		s    QuarantineSample
		want string
	}{
		{QuarantineSample{Line: 12, Reason: "CAST"}, "a.csv:12: CAST"},
		{QuarantineSample{Reason: "NULL"}, "a.csv: NULL"},
	}
	for _, tc := range tests {
		if got := tc.s.Describe("a.csv"); got != tc.want {
			t.Errorf("Describe = %q, want %q", got, tc.want)
		}
	}
}
