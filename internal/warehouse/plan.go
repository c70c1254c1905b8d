package warehouse

import (
	"context"
	"errors"
	"fmt"
)

// This file is the seam between the self-healing engine and the data
// plane: a strategy decides in Go and returns a repair as data (a
// RepairOp, with Predicates as small trees); the warehouse compiles it
// into its own dialect, runs it on the staged rows, keeps what it
// replaced, and reverts it after the commit. Nothing here is SQL text.

// Predicate is a condition on a row, as data: a tree of IsNull, Eq, In,
// Not, And and Or that each warehouse compiles into its dialect. Values
// are compared as the column's type: a value that does not convert to it
// matches no row. As in SQL, a comparison with a NULL is unknown, and so
// is its negation: neither Eq nor Not{Eq} holds for a NULL column (add
// IsNull to include those rows).
type Predicate interface{ isPredicate() }

// IsNull holds for the rows whose Column is NULL.
type IsNull struct{ Column string }

// Eq holds for the rows whose Column equals Value.
type Eq struct {
	Column string
	Value  any
}

// In holds for the rows whose Column equals one of Values; an empty list
// holds for none.
type In struct {
	Column string
	Values []any
}

// Not holds where Of does not (and is unknown where Of is unknown).
type Not struct{ Of Predicate }

// And holds where all of its predicates hold; an empty And holds for
// every row.
type And []Predicate

// Or holds where any of its predicates holds; an empty Or holds for none.
type Or []Predicate

func (IsNull) isPredicate() {}
func (Eq) isPredicate()     {}
func (In) isPredicate()     {}
func (Not) isPredicate()    {}
func (And) isPredicate()    {}
func (Or) isPredicate()     {}

// RepairOp is one typed change to a staged object's rows, as data:
// MapValues, FillDefault, QuarantineDuplicates or Quarantine. A rewrite changes one column's values and its
// originals are kept; a set-aside moves rows to the object's quarantine
// with a reason.
//
// Repairs of how a file is read (date layouts, epoch units, number
// formats, null tokens, transcoding) are not RepairOps: they are data of
// the LoadSpec (ColumnParse, Encoding, ...), applied by staging the
// object again.
type RepairOp interface {
	// Rewritten names the column the operation rewrites; "" for an
	// operation that sets rows aside.
	Rewritten() string
	// SetAsideReason is the reason rows set aside by the operation carry;
	// "" for a rewrite.
	SetAsideReason() string
	isRepairOp()
}

// MapValues rewrites Column's values through Mapping. A row changes when
// its column is not NULL, its value as text, normalized (trimmed of
// spaces with Trim, lower-cased with FoldCase), is a key of Mapping
// (normalized the same way), and it does not hold that key's value
// already; it then holds the key's value, converted to the column's type.
// Mapping " emea" and "Emea" to "EMEA" is {"emea": "EMEA"} with Trim and
// FoldCase.
type MapValues struct {
	Column   string
	Trim     bool
	FoldCase bool
	Mapping  map[string]string
}

// FillDefault sets Column to Value in the rows where it is NULL. A Value
// that does not convert to the column's type is refused with
// ErrValueDoesNotFit.
type FillDefault struct {
	Column string
	Value  any
}

// QuarantineDuplicates keeps the latest row (the last in the object's
// order) of each key, the values of Keys, and sets the earlier ones aside
// with Reason. Rows with a NULL in a key column are left alone.
type QuarantineDuplicates struct {
	Keys   []string
	Reason string
}

// Quarantine sets the rows for which Where holds aside with Reason.
type Quarantine struct {
	Where  Predicate
	Reason string
}

// Rewritten implements RepairOp.
func (o MapValues) Rewritten() string { return o.Column }

// SetAsideReason implements RepairOp.
func (MapValues) SetAsideReason() string { return "" }
func (MapValues) isRepairOp()            {}

// Rewritten implements RepairOp.
func (o FillDefault) Rewritten() string { return o.Column }

// SetAsideReason implements RepairOp.
func (FillDefault) SetAsideReason() string { return "" }
func (FillDefault) isRepairOp()            {}

// Rewritten implements RepairOp.
func (QuarantineDuplicates) Rewritten() string { return "" }

// SetAsideReason implements RepairOp.
func (o QuarantineDuplicates) SetAsideReason() string { return o.Reason }
func (QuarantineDuplicates) isRepairOp()              {}

// Rewritten implements RepairOp.
func (Quarantine) Rewritten() string { return "" }

// SetAsideReason implements RepairOp.
func (o Quarantine) SetAsideReason() string { return o.Reason }
func (Quarantine) isRepairOp()              {}

// RepairPlan is an operation to run on a staged object. A rewrite needs
// a Token: its original values are kept under it until KeepRepair or
// UndoRepair, and after KeepRepair for RevertRepair.
type RepairPlan struct {
	Token string
	Op    RepairOp
}

// RepairPreview is what an operation would do, without doing it.
type RepairPreview struct {
	// Rows counts the rows it would change or set aside.
	Rows int64
	// Before samples those rows: for a rewrite, the column's values, with
	// the values they would become in After; for QuarantineDuplicates,
	// the keys as text joined by "|"; for Quarantine, each row as JSON.
	Before, After []any
}

// RepairResult says what ApplyRepair did.
type RepairResult struct {
	Rows int64 // rows rewritten or set aside
}

// ValueCount is one distinct value of a column, as text, and how many
// rows hold it.
type ValueCount struct {
	Value string
	Rows  int64
}

// Rescue is what KeepRescued kept of a stage repair: the rows it rescued
// from quarantine, under Token, rendered over RowColumns.
type Rescue struct {
	// Token names the kept rows for RevertRepair; "" when nothing was
	// kept (nothing rescued, or the two stagings do not differ row for
	// row), and the repair cannot be reverted.
	Token      string
	RowColumns []string
	// ReplacesKeys says a rescued row has a key the target holds already:
	// merged, it will replace that row, which a revert could not bring
	// back; nothing was kept.
	ReplacesKeys bool
}

// Kinds of RevertSpec.
const (
	RevertRewrite  = "rewrite"   // put back the values a kept rewrite replaced
	RevertRescue   = "rescue"    // move rows a stage repair rescued back to quarantine
	RevertSetAside = "set_aside" // move rows a repair set aside back from quarantine
)

// RevertSpec names a repair that reached a target and how to undo it
// there.
type RevertSpec struct {
	Kind   string // RevertRewrite, RevertRescue or RevertSetAside
	Target string
	// Token names what was kept: a rewrite's RepairPlan.Token, a rescue's
	// Rescue.Token.
	Token string
	// Column is the column a rewrite changed.
	Column string
	// RowColumns are the columns the kept rows were rendered over, in
	// order (a rewrite's staged columns, a rescue's RowColumns): each
	// kept row finds its target row by their values.
	RowColumns []string
	// RunID, Pipeline and ObjectKey are the repair's: a set-aside's rows
	// are found in the target's quarantine by them (with Reason), a
	// rescue's lines go back to it under the run and pipeline.
	RunID, Pipeline, ObjectKey string
	// Reason is the reason a set-aside's rows carry.
	Reason string
	// Note is appended to the first reason of each line a rescue's revert
	// sets aside again.
	Note string
}

// ErrValueDoesNotFit says a repair's value does not convert to its
// column's type: the repair is refused.
var ErrValueDoesNotFit = errors.New("the value does not fit the column's type")

// ChangedSinceError says that rows a kept repair left in a target are no
// longer there as it left them (a later merge changed them): a revert
// then changes nothing.
type ChangedSinceError struct {
	Changed int64 // kept rows not found as the repair left them
	Kept    int64 // rows the repair kept
}

// Error says how many kept rows changed.
func (e *ChangedSinceError) Error() string {
	return fmt.Sprintf("%d of the %d rows are no longer as the repair left them; nothing was reverted", e.Changed, e.Kept)
}

// Rows is a result set being read, row by row, as database/sql reads
// one (a warehouse's Rows are quality.Rows too). Close releases what it
// holds (the data plane, for RunQuery).
type Rows interface {
	// Next moves to the next row; false when there is none (or an error,
	// which Err returns).
	Next() bool
	// Scan copies the current row's values into dest, one pointer per
	// column.
	Scan(dest ...any) error
	// Columns names the columns.
	Columns() ([]string, error)
	// ColumnTypes describes the columns with their engine types (e.g.
	// DATE, TIMESTAMPTZ), in order.
	ColumnTypes() ([]Column, error)
	// Err is the error that ended the rows, if any.
	Err() error
	// Close releases the rows; it may be called more than once.
	Close() error
}

// Scan is what one query read, as its engine measured it: rows scanned
// (DuckDB's profiler, after zone maps skipped what they could), bytes
// read or processed (BigQuery's job statistics), bytes billed. Zero
// where the engine does not say.
type Scan struct {
	RowsScanned int64 `json:"rows_scanned,omitempty"`
	Bytes       int64 `json:"bytes_scanned,omitempty"`
	BytesBilled int64 `json:"bytes_billed,omitempty"`
}

// ScannedRows are Rows whose engine measures what the query read; the
// figures hold once the rows are closed or read to the end.
type ScannedRows interface {
	Rows
	Scanned() Scan
}

// ScanMeter is a warehouse that can measure what a query reads.
type ScanMeter interface {
	// MeasuredQuery is RunQuery with the query's reads measured (at the
	// cost of the engine's profiler, where it has one).
	MeasuredQuery(ctx context.Context, query string, args ...any) (ScannedRows, error)
}

// Prober is what a healing strategy may read of a staged object to
// decide: nothing it calls changes a row.
type Prober interface {
	// CountRows counts the staged rows for which where holds (all of
	// them when where is nil).
	CountRows(ctx context.Context, st *Staged, where Predicate) (int64, error)
	// DistinctValues lists up to limit distinct non-NULL values of
	// column, as text, most frequent first (then by value).
	DistinctValues(ctx context.Context, st *Staged, column string, limit int) ([]ValueCount, error)
	// PreviewRepair says how many rows op would change or set aside,
	// with up to sample examples, changing nothing. A value that does not
	// fit its column is ErrValueDoesNotFit.
	PreviewRepair(ctx context.Context, st *Staged, op RepairOp, sample int) (*RepairPreview, error)
}

// Repairer runs repair plans on staged objects, keeps what they replaced,
// and reverts them after the commit.
type Repairer interface {
	Prober
	// ApplyRepair runs the plan on the staged rows. A rewrite keeps the
	// values it replaces under the plan's token until KeepRepair or
	// UndoRepair; a set-aside moves the rows to the object's quarantine
	// with the reason and updates the object's counts.
	ApplyRepair(ctx context.Context, st *Staged, plan RepairPlan) (RepairResult, error)
	// KeepRepair makes an applied rewrite final: its original values,
	// with each repaired row rendered over st.Columns, are kept under the
	// token for RevertRepair.
	KeepRepair(ctx context.Context, st *Staged, token string) error
	// UndoRepair puts back the values an applied rewrite replaced.
	UndoRepair(ctx context.Context, st *Staged, token string) error
	// KeepRescued keeps what a stage repair rescued, when before (the
	// object staged as spec says) and after (staged again with the
	// repair) differ row for row: the lines before set aside and after
	// did not, and the rows after has and before lacks.
	KeepRescued(ctx context.Context, spec LoadSpec, before, after *Staged) (Rescue, error)
	// RevertRepair undoes a kept repair in its target and returns the
	// rows it changed. It is all or nothing: when a kept row is no longer
	// in the target as the repair left it, nothing changes and the error
	// is a *ChangedSinceError.
	RevertRepair(ctx context.Context, spec RevertSpec) (int64, error)
}
