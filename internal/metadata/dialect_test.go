package metadata

import (
	"strings"
	"testing"
	"time"
)

func TestRebind(t *testing.T) {
	for _, tc := range []struct {
		name, in, sqlite, postgres string
	}{
		{"none", "SELECT 1", "SELECT 1", "SELECT 1"},
		{"several", "INSERT INTO t VALUES (?, ?, ?)", "INSERT INTO t VALUES (?, ?, ?)", "INSERT INTO t VALUES ($1, $2, $3)"},
		{"in strings", `SELECT '?', "a?b", ? FROM t WHERE x = 'it''s?' AND y = ?`,
			`SELECT '?', "a?b", ? FROM t WHERE x = 'it''s?' AND y = ?`,
			`SELECT '?', "a?b", $1 FROM t WHERE x = 'it''s?' AND y = $2`},
		{"many", strings.Repeat("?,", 11), strings.Repeat("?,", 11), "$1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := sqliteDialect.rebind(tc.in); got != tc.sqlite {
				t.Errorf("sqlite rebind = %q, want %q", got, tc.sqlite)
			}
			if got := postgresDialect.rebind(tc.in); got != tc.postgres {
				t.Errorf("postgres rebind = %q, want %q", got, tc.postgres)
			}
		})
	}
}

func TestTimeArg(t *testing.T) {
	zone := time.FixedZone("X", -3*3600)
	in := time.Date(2025, 1, 2, 3, 4, 5, 6007008, zone)
	for _, tc := range []struct {
		name string
		d    dialect
		in   time.Time
		want any
	}{
		{"sqlite zero", sqliteDialect, time.Time{}, nil},
		{"postgres zero", postgresDialect, time.Time{}, nil},
		{"sqlite", sqliteDialect, in, in.UnixMicro()},
		{"postgres", postgresDialect, in, time.Date(2025, 1, 2, 6, 4, 5, 6007000, time.UTC)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.d.timeArg(tc.in); got != tc.want {
				t.Errorf("timeArg(%v) = %#v, want %#v", tc.in, got, tc.want)
			}
		})
	}
}

func TestNullTimeScan(t *testing.T) {
	at := time.Date(2025, 1, 2, 3, 4, 5, 6000, time.UTC)
	for _, tc := range []struct {
		name    string
		src     any
		want    time.Time
		wantErr bool
	}{
		{"null", nil, time.Time{}, false},
		{"micros", at.UnixMicro(), at, false},
		{"time", at.In(time.FixedZone("Y", 3600)), at, false},
		{"string", "2025-01-02", time.Time{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := time.Unix(1, 0) // overwritten
			err := scanTime(&got).Scan(tc.src)
			if (err != nil) != tc.wantErr {
				t.Fatalf("Scan(%v) error %v, want error %v", tc.src, err, tc.wantErr)
			}
			if !tc.wantErr && (got != tc.want || got.Location() != time.UTC) {
				t.Errorf("Scan(%v) = %v, want %v UTC", tc.src, got, tc.want)
			}
		})
	}
}
