package postgres

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/shp-dev/shp/internal/schema"
)

// kind is the family of a column's engine type: how shp reads a value
// into it and how it sends it to PostgreSQL (binary COPY).
type kind uint8

const (
	kText kind = iota // VARCHAR, VARCHAR(n), CHAR(n), TEXT
	kInt16
	kInt32
	kInt64
	kFloat32
	kFloat64
	kDecimal // DECIMAL(p,s)
	kNumeric // unconstrained NUMERIC (a target made by hand)
	kBool
	kDate
	kTimestamp
	kTimestamptz
	kTime
	kBytes
	kJSONB
	kJSON  // json (a target made by hand): kept as text
	kOther // any other type of an existing target: staged as text, cast at commit
)

// colType is a column's engine type.
//
// Engine types are spelled the way shp's DuckDB warehouse spells them
// wherever PostgreSQL accepts the spelling (BIGINT, VARCHAR,
// DECIMAL(38,9), DATE, TIMESTAMP, TIMESTAMPTZ, TIME, BOOLEAN), so the
// healing engine and the quality compiler read the same names; the
// others are PostgreSQL's: DOUBLE PRECISION, REAL, BYTEA, JSONB.
type colType struct {
	kind        kind
	name        string // canonical engine type, e.g. DECIMAL(12,2)
	prec, scale int    // kDecimal
	length      int    // kText with a length limit (VARCHAR(n), CHAR(n)); 0 for none
}

// Canonical engine types.
var (
	tVarchar     = colType{kind: kText, name: "VARCHAR"}
	tSmallint    = colType{kind: kInt16, name: "SMALLINT"}
	tInteger     = colType{kind: kInt32, name: "INTEGER"}
	tBigint      = colType{kind: kInt64, name: "BIGINT"}
	tReal        = colType{kind: kFloat32, name: "REAL"}
	tDouble      = colType{kind: kFloat64, name: "DOUBLE PRECISION"}
	tBoolean     = colType{kind: kBool, name: "BOOLEAN"}
	tDate        = colType{kind: kDate, name: "DATE"}
	tTimestamp   = colType{kind: kTimestamp, name: "TIMESTAMP"}
	tTimestamptz = colType{kind: kTimestamptz, name: "TIMESTAMPTZ"}
	tTime        = colType{kind: kTime, name: "TIME"}
	tBytea       = colType{kind: kBytes, name: "BYTEA"}
	tJSONB       = colType{kind: kJSONB, name: "JSONB"}
)

func decimalType(p, s int) colType {
	return colType{kind: kDecimal, name: fmt.Sprintf("DECIMAL(%d,%d)", p, s), prec: p, scale: s}
}

// TypeOf maps a BigQuery schema field to the PostgreSQL type that holds
// it, with the same precision shp's DuckDB warehouse gives it: NUMERIC
// is DECIMAL(38,9) (or its declared precision and scale), BIGNUMERIC
// DECIMAL(38,18), TIMESTAMP TIMESTAMPTZ and DATETIME TIMESTAMP, JSON,
// RECORD and REPEATED fields JSONB.
func TypeOf(f schema.Field) string { return typeOf(f).name }

func typeOf(f schema.Field) colType {
	if strings.EqualFold(f.Mode, schema.ModeRepeated) {
		return tJSONB
	}
	switch strings.ToUpper(f.Type) {
	case "STRING", "GEOGRAPHY":
		return tVarchar
	case "BYTES":
		return tBytea
	case "INT64", "INTEGER":
		return tBigint
	case "FLOAT64", "FLOAT":
		return tDouble
	case "NUMERIC", "BIGNUMERIC":
		if f.Precision > 0 {
			return decimalType(f.Precision, f.Scale)
		}
		if strings.EqualFold(f.Type, "BIGNUMERIC") {
			return decimalType(38, 18)
		}
		return decimalType(38, 9)
	case "BOOL", "BOOLEAN":
		return tBoolean
	case "TIMESTAMP":
		return tTimestamptz
	case "DATETIME":
		return tTimestamp
	case "DATE":
		return tDate
	case "TIME":
		return tTime
	default: // JSON, RECORD, STRUCT
		return tJSONB
	}
}

// parseType reads an engine type: one of shp's canonical names, or what
// PostgreSQL's format_type writes for a column of a table made by hand
// ("character varying(20)", "numeric(12,2)", "timestamp without time
// zone"). Types shp does not convert itself are kOther.
func parseType(name string) colType {
	t := strings.ToUpper(strings.TrimSpace(name))
	base, args, _ := strings.Cut(t, "(")
	base = strings.TrimSpace(base)
	args = strings.TrimSuffix(strings.TrimSpace(args), ")")
	var nums []int
	if args != "" {
		for _, a := range strings.Split(args, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(a))
			if err != nil {
				return colType{kind: kOther, name: t}
			}
			nums = append(nums, n)
		}
	}
	switch base {
	case "VARCHAR", "TEXT", "CHARACTER VARYING", "CHARACTER", "CHAR", "BPCHAR", "STRING":
		if len(nums) == 1 {
			if base == "CHARACTER" || base == "CHAR" || base == "BPCHAR" {
				return colType{kind: kOther, name: fmt.Sprintf("CHAR(%d)", nums[0])}
			}
			return colType{kind: kText, name: fmt.Sprintf("VARCHAR(%d)", nums[0]), length: nums[0]}
		}
		if base == "CHARACTER" || base == "CHAR" || base == "BPCHAR" {
			return colType{kind: kOther, name: "CHAR(1)"}
		}
		return tVarchar
	case "SMALLINT", "INT2":
		return tSmallint
	case "INTEGER", "INT", "INT4":
		return tInteger
	case "BIGINT", "INT8":
		return tBigint
	case "REAL", "FLOAT4":
		return tReal
	case "DOUBLE PRECISION", "DOUBLE", "FLOAT8", "FLOAT":
		return tDouble
	case "NUMERIC", "DECIMAL":
		switch len(nums) {
		case 0:
			return colType{kind: kNumeric, name: "NUMERIC"}
		case 1:
			return decimalType(nums[0], 0)
		default:
			return decimalType(nums[0], nums[1])
		}
	case "BOOLEAN", "BOOL":
		return tBoolean
	case "DATE":
		return tDate
	case "TIMESTAMP", "TIMESTAMP WITHOUT TIME ZONE":
		if len(nums) == 0 {
			return tTimestamp
		}
	case "TIMESTAMPTZ", "TIMESTAMP WITH TIME ZONE":
		if len(nums) == 0 {
			return tTimestamptz
		}
	case "TIME", "TIME WITHOUT TIME ZONE":
		if len(nums) == 0 {
			return tTime
		}
	case "BYTEA", "BLOB":
		return tBytea
	case "JSONB":
		return tJSONB
	case "JSON":
		return colType{kind: kJSON, name: "JSON"}
	}
	return colType{kind: kOther, name: t}
}

// stageType is the type of a staging column for a value of type t: t
// itself, but text for the types shp does not convert (they are cast at
// commit).
func (t colType) stageType() string {
	if t.kind == kOther {
		return "TEXT"
	}
	return t.name
}

// duckName is the name shp's DuckDB warehouse gives the type, used in
// quarantine reasons so that they read the same in both warehouses.
func (t colType) duckName() string {
	switch t.kind {
	case kFloat64:
		return "DOUBLE"
	case kFloat32:
		return "FLOAT"
	case kBytes:
		return "BLOB"
	case kJSONB, kJSON:
		return "JSON"
	case kText:
		return "VARCHAR"
	}
	return t.name
}

func isIntKind(k kind) bool { return k == kInt16 || k == kInt32 || k == kInt64 }

// Widens reports whether a column of engine type from can become type to
// without losing a value: integers to wider integers, decimals or
// floats; REAL and decimals to DOUBLE PRECISION; DATE to a timestamp.
func Widens(from, to string) bool { return widens(parseType(from), parseType(to)) }

func widens(from, to colType) bool {
	if from.name == to.name {
		return false
	}
	switch {
	case isIntKind(from.kind) && isIntKind(to.kind):
		return to.kind > from.kind
	case isIntKind(from.kind):
		return to.kind == kFloat64 || to.kind == kDecimal || to.kind == kNumeric
	case from.kind == kFloat32:
		return to.kind == kFloat64
	case from.kind == kDecimal:
		return to.kind == kFloat64
	case from.kind == kDate:
		return to.kind == kTimestamp || to.kind == kTimestamptz
	}
	return false
}

// SchemaType names the BigQuery type that holds an engine type.
func SchemaType(engineType string) string {
	switch t := parseType(engineType); t.kind {
	case kInt16, kInt32, kInt64:
		return schema.TypeInt64
	case kFloat32, kFloat64:
		return schema.TypeFloat64
	case kDecimal, kNumeric:
		return schema.TypeNumeric
	case kBool:
		return schema.TypeBool
	case kDate:
		return schema.TypeDate
	case kTimestamp:
		return schema.TypeDatetime
	case kTimestamptz:
		return schema.TypeTimestamp
	case kTime:
		return schema.TypeTime
	case kBytes:
		return schema.TypeBytes
	case kText:
		return schema.TypeString
	}
	return schema.TypeJSON
}
