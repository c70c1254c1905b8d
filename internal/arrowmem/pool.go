// Package arrowmem holds the Arrow allocator shp's typed batches use: a
// pool that hands a batch the buffers the batch before it released.
//
// Arrow's Go allocator makes a fresh slice for every buffer and every
// growth of one. A stream of record batches of the same shape then asks
// the operating system for new pages all the time (the kernel zeroes
// each and faults it in), which profiled at a quarter of an extraction's
// CPU. The pool keeps released buffers by capacity class and gives them
// out again, cleared, so a steady stream reuses a few MiB of warm memory.
package arrowmem

import (
	"math/bits"
	"sync"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

const (
	// minPooled is the smallest capacity kept: smaller buffers are cheap
	// to make and go to the Go allocator.
	minPooled = 64 << 10
	// alignment is Arrow's buffer alignment.
	alignment = 64
)

// Pool is a memory.Allocator that reuses released buffers. Its zero
// value is not usable; make one with NewPool. It is safe for concurrent
// use.
type Pool struct {
	mu    sync.Mutex
	free  map[int][][]byte // by class (log2 of the capacity)
	held  int              // bytes in free
	limit int              // most bytes free may hold
}

// NewPool returns a pool that keeps at most limit bytes of released
// buffers; buffers released beyond it are left to the garbage collector.
func NewPool(limit int) *Pool {
	return &Pool{free: map[int][][]byte{}, limit: limit}
}

// class returns the capacity class of size: the power of two that holds
// it.
func class(size int) int { return bits.Len(uint(size - 1)) }

// Allocate implements memory.Allocator: a zeroed buffer of size bytes,
// 64-byte aligned.
func (p *Pool) Allocate(size int) []byte {
	if size < minPooled {
		return memory.DefaultAllocator.Allocate(size)
	}
	c := class(size)
	p.mu.Lock()
	if l := p.free[c]; len(l) > 0 {
		b := l[len(l)-1]
		p.free[c] = l[:len(l)-1]
		p.held -= cap(b)
		p.mu.Unlock()
		b = b[:size]
		clear(b)
		return b
	}
	p.mu.Unlock()
	buf := make([]byte, 1<<c+alignment)
	shift := 0
	if r := int(addressOf(buf)) % alignment; r != 0 {
		shift = alignment - r
	}
	return buf[shift : shift+size : shift+1<<c]
}

// Reallocate implements memory.Allocator: b grown (or cut) to size,
// its contents kept; a buffer it outgrows goes back to the pool.
func (p *Pool) Reallocate(size int, b []byte) []byte {
	if cap(b) >= size {
		return b[:size]
	}
	nb := p.Allocate(size)
	copy(nb, b)
	p.Free(b)
	return nb
}

// Free implements memory.Allocator: b may be handed out again.
func (p *Pool) Free(b []byte) {
	c := cap(b)
	if c < minPooled || c&(c-1) != 0 {
		return // not one of the pool's
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.held+c > p.limit {
		return
	}
	p.free[class(c)] = append(p.free[class(c)], b[:0])
	p.held += c
}

var _ memory.Allocator = (*Pool)(nil)
