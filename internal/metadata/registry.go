package metadata

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
)

// Opener opens a store of one kind; target is what the kind needs to find
// its database, such as a file path or a DSN.
type Opener func(ctx context.Context, target string) (Store, error)

// registry maps store kinds to their openers.
var registry = struct {
	sync.RWMutex
	openers map[string]Opener
}{openers: map[string]Opener{
	KindSQLite:   openSQLite,
	KindPostgres: openPostgres,
}}

// Built-in store kinds.
const (
	// KindSQLite is a store in an SQLite file; its target is the file path.
	KindSQLite = "sqlite"
	// KindPostgres is a store in PostgreSQL; its target is a DSN, either a
	// URL or key=value pairs.
	KindPostgres = "postgres"
)

// Register makes a kind of store available to Open. It panics when kind is
// empty, open is nil or kind is registered already.
func Register(kind string, open Opener) {
	if kind == "" || open == nil {
		panic("metadata: Register needs a kind and an opener")
	}
	registry.Lock()
	defer registry.Unlock()
	if _, dup := registry.openers[kind]; dup {
		panic(fmt.Sprintf("metadata: store kind %q is registered twice", kind))
	}
	registry.openers[kind] = open
}

// Kinds returns the registered kinds of store, sorted.
func Kinds() []string {
	registry.RLock()
	defer registry.RUnlock()
	kinds := make([]string, 0, len(registry.openers))
	for k := range registry.openers {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	return kinds
}

// Open opens the store of the given kind at target, migrating its schema to
// the current version. Errors never show a password the target holds.
func Open(ctx context.Context, kind, target string) (Store, error) {
	registry.RLock()
	open, ok := registry.openers[kind]
	registry.RUnlock()
	if !ok {
		return nil, fmt.Errorf("%w %q (have %s)", ErrUnknownKind, kind, strings.Join(Kinds(), ", "))
	}
	return open(ctx, target)
}
