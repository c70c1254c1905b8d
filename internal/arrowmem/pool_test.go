package arrowmem

import (
	"bytes"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

func TestPoolAllocate(t *testing.T) {
	for _, size := range []int{0, 1, 63, 64, minPooled - 1, minPooled, minPooled + 1, 1 << 20, 3<<20 + 7} {
		p := NewPool(64 << 20)
		b := p.Allocate(size)
		if len(b) != size {
			t.Fatalf("Allocate(%d): len %d", size, len(b))
		}
		if size > 0 && addressOf(b)%alignment != 0 {
			t.Errorf("Allocate(%d): address %#x not %d-byte aligned", size, addressOf(b), alignment)
		}
		for i := range b {
			b[i] = 0xAB
		}
		p.Free(b)
		again := p.Allocate(size)
		if size >= minPooled && addressOf(again) != addressOf(b) {
			t.Errorf("Allocate(%d) after Free: a new buffer, want the freed one back", size)
		}
		if !bytes.Equal(again, make([]byte, size)) {
			t.Errorf("Allocate(%d) after Free: not zeroed", size)
		}
	}
}

func TestPoolClasses(t *testing.T) {
	p := NewPool(64 << 20)
	small := p.Allocate(minPooled + 1) // class 2*minPooled
	p.Free(small)
	// A larger request of another class must not get the smaller buffer.
	big := p.Allocate(4 * minPooled)
	if cap(big) < 4*minPooled {
		t.Fatalf("Allocate(%d): cap %d", 4*minPooled, cap(big))
	}
	if addressOf(big) == addressOf(small) {
		t.Error("a buffer of a smaller class was handed out for a larger request")
	}
	// A smaller request of the same class gets it.
	same := p.Allocate(minPooled + 100)
	if addressOf(same) != addressOf(small) {
		t.Error("a request of the freed buffer's class did not reuse it")
	}
}

func TestPoolLimit(t *testing.T) {
	p := NewPool(3 * minPooled)
	a, b := p.Allocate(2*minPooled), p.Allocate(2*minPooled)
	p.Free(a)
	p.Free(b) // over the limit: left to the garbage collector
	if p.held != 2*minPooled {
		t.Fatalf("held %d bytes, want %d", p.held, 2*minPooled)
	}
	if got := p.Allocate(2 * minPooled); addressOf(got) != addressOf(a) {
		t.Error("the buffer kept was not handed out")
	}
	if p.held != 0 {
		t.Errorf("held %d bytes after taking the only one, want 0", p.held)
	}
	// Buffers the pool did not make are not kept.
	p.Free(make([]byte, 3*minPooled))
	p.Free(make([]byte, 10))
	if p.held != 0 {
		t.Errorf("held %d bytes of foreign buffers", p.held)
	}
}

func TestPoolReallocate(t *testing.T) {
	p := NewPool(64 << 20)
	b := p.Allocate(minPooled)
	for i := range b {
		b[i] = byte(i)
	}
	grown := p.Reallocate(5*minPooled, b)
	if len(grown) != 5*minPooled {
		t.Fatalf("len %d", len(grown))
	}
	for i := 0; i < minPooled; i++ {
		if grown[i] != byte(i) {
			t.Fatalf("byte %d: %d after growing, want %d", i, grown[i], byte(i))
		}
	}
	if p.held != minPooled {
		t.Errorf("the outgrown buffer was not kept: held %d", p.held)
	}
	if cut := p.Reallocate(10, grown); len(cut) != 10 || addressOf(cut) != addressOf(grown) {
		t.Error("cutting a buffer moved it")
	}
}

// TestPoolBatches round-trips record batches built and read with the
// pool, several times over, as an extractor and DuckDB's reader use it:
// every value must come back, whatever buffer it was built in.
func TestPoolBatches(t *testing.T) {
	p := NewPool(16 << 20)
	mem := memory.NewCheckedAllocator(p)
	sch := arrow.NewSchema([]arrow.Field{
		{Name: "n", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	for round := range 4 {
		var buf bytes.Buffer
		w := ipc.NewWriter(&buf, ipc.WithSchema(sch), ipc.WithLZ4(), ipc.WithAllocator(mem))
		b := array.NewRecordBuilder(mem, sch)
		rows := 20000 + round*7000
		for batch := range 3 {
			for i := range rows {
				if i%5 == batch {
					b.Field(0).AppendNull()
					b.Field(1).AppendNull()
					continue
				}
				b.Field(0).(*array.Int64Builder).Append(int64(round*1e6 + batch*1e5 + i))
				b.Field(1).(*array.StringBuilder).Append(string(rune('a'+i%26)) + "-value")
			}
			rec := b.NewRecordBatch()
			if err := w.Write(rec); err != nil {
				t.Fatal(err)
			}
			rec.Release()
		}
		b.Release()
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		r, err := ipc.NewReader(&buf, ipc.WithAllocator(mem))
		if err != nil {
			t.Fatal(err)
		}
		batch := 0
		for r.Next() {
			rec := r.RecordBatch()
			n, s := rec.Column(0).(*array.Int64), rec.Column(1).(*array.String)
			for i := range int(rec.NumRows()) {
				if i%5 == batch {
					if n.IsValid(i) || s.IsValid(i) {
						t.Fatalf("round %d batch %d row %d: want NULL", round, batch, i)
					}
					continue
				}
				if n.Value(i) != int64(round*1e6+batch*1e5+i) || s.Value(i) != string(rune('a'+i%26))+"-value" {
					t.Fatalf("round %d batch %d row %d: %d %q", round, batch, i, n.Value(i), s.Value(i))
				}
			}
			batch++
		}
		if r.Err() != nil || batch != 3 {
			t.Fatalf("round %d: %d batches, %v", round, batch, r.Err())
		}
		r.Release()
	}
	mem.AssertSize(t, 0)
	if p.held == 0 {
		t.Error("nothing released to the pool")
	}
}

func TestPoolConcurrent(t *testing.T) {
	p := NewPool(8 << 20)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				size := minPooled * (1 + (g+i)%7)
				b := p.Allocate(size)
				for j := range b {
					if b[j] != 0 {
						t.Errorf("byte %d of a handed out buffer is %d", j, b[j])
						return
					}
				}
				b[0], b[size-1] = byte(g), byte(i)
				p.Free(b)
			}
		}()
	}
	wg.Wait()
	if p.held > 8<<20 {
		t.Errorf("held %d bytes, over the limit", p.held)
	}
}
