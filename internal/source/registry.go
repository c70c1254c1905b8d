package source

import (
	"context"
	"slices"
	"strings"
	"sync"
)

// typeRegistry maps a source type to the function that opens a source of
// that type; object sources and extracting sources each have one.
type typeRegistry[T any] struct {
	mu    sync.RWMutex
	m     map[string]func(context.Context, Spec) (T, error)
	using string // the registering function, named in its panics
}

func newTypeRegistry[T any](using string) *typeRegistry[T] {
	return &typeRegistry[T]{m: map[string]func(context.Context, Spec) (T, error){}, using: using}
}

// register adds typ. It panics if f is nil or typ is already registered.
func (r *typeRegistry[T]) register(typ string, f func(context.Context, Spec) (T, error)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if f == nil {
		panic("source: " + r.using + " of a nil factory for type " + typ)
	}
	if _, dup := r.m[typ]; dup {
		panic("source: " + r.using + " called twice for type " + typ)
	}
	r.m[typ] = f
}

// types returns the registered types, sorted.
func (r *typeRegistry[T]) types() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	types := make([]string, 0, len(r.m))
	for t := range r.m {
		types = append(types, t)
	}
	slices.Sort(types)
	return types
}

// lookup returns typ's factory, nil when typ is not registered.
func (r *typeRegistry[T]) lookup(typ string) func(context.Context, Spec) (T, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.m[typ]
}

// joinedTypes lists the registered types for an error message.
func (r *typeRegistry[T]) joinedTypes() string { return strings.Join(r.types(), ", ") }
