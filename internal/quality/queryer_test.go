package quality

import "database/sql"

// sqlQueryer runs a suite's queries on a database/sql database.
func sqlQueryer(db *sql.DB) Queryer { return SQLQueryer(db) }
