// Package sqlplan is the warehouses' one SQL compiler for what healing
// and the load steps ask of a staged object: it turns the typed repair
// plans of package warehouse (MapValues, FillDefault,
// QuarantineDuplicates, Quarantine and the Predicate trees) into SQL,
// writes the statements that keep and revert repairs, and holds the
// steps of staging, measuring and committing that do not depend on the
// engine.
//
// What differs between engines is asked of a Leaf: a quality.Dialect
// (identifier quoting, the n-th placeholder, the cast to text, regular
// expressions) and a few expressions of its own (how a plan's value
// becomes a value of a column's type, a staged row's position, a row as
// JSON, how a column groups rows in a PARTITION BY, the matches of a
// pattern, an order of text by bytes). The compiler writes each bound
// value as a ? and Bind numbers them in the engine's notation at the
// end, so that fragments compose in any order.
//
// A new engine plugs in with its leaves alone. BigQuery's (GoogleSQL,
// in package bigquery), for instance:
//
//   - Dialect: Ident quotes with backticks, Placeholder is ? (whose
//     values shp's own queries write as literals: the emulator binds no
//     parameters in scripts), Text is CAST(e AS STRING), RegexMatch is
//     REGEXP_CONTAINS(e, p).
//   - Value: SAFE_CAST(? AS T) with the value sent as text, ok always
//     (a value that does not convert is NULL and matches nothing; the
//     engine checks Op.Fits before it writes them).
//   - RowID: `__shp_row`; PartitionKey: CAST(c AS STRING) for a FLOAT64,
//     which GoogleSQL does not partition by; RowJSON: TO_JSON_STRING of
//     the row; Matches: (SELECT c FROM t, UNNEST(REGEXP_EXTRACT_ALL(col,
//     p)) AS c); ByteOrder: e (GoogleSQL compares strings by bytes).
//
// The package imports no driver: statements run through Querier, which
// *sql.DB, *sql.Conn and *sql.Tx satisfy with DB, and a pgx pool with a
// few lines in its warehouse.
package sqlplan
