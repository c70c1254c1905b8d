package postgresspec

import (
	"errors"
	"strings"
	"testing"

	"github.com/shp-dev/shp/internal/config/configtest"
	"github.com/shp-dev/shp/internal/config/spec"
)

func TestSpecMatchesConfig(t *testing.T) {
	configtest.CheckSpec(t, spec.KindWarehouse, Name, Config{}, Fields())
}

func TestDecode(t *testing.T) {
	c, err := Decode(map[string]any{"dsn": "postgres://u@h/db", "schema": "mart", "max_connections": 4})
	if err != nil {
		t.Fatal(err)
	}
	if c.DSN != "postgres://u@h/db" || c.Schema != "mart" || c.InternalSchema != DefaultInternalSchema || c.MaxConnections != 4 {
		t.Errorf("decoded %+v", c)
	}
	if _, err := Decode(map[string]any{"dsn": "postgres://u@h/db", "path": "x.db"}); err == nil {
		t.Error("an unknown key decoded")
	}
	if _, err := Decode(nil); err == nil || !strings.Contains(err.Error(), "dsn is required") {
		t.Errorf("no dsn: %v", err)
	}
}

// TestLocation: the server, database and schema of the targets, as
// lineage names them, from either form of DSN; never the password.
func TestLocation(t *testing.T) {
	for _, c := range []struct {
		cfg                      Config
		server, database, schema string
	}{
		{Config{DSN: "postgres://shp:pw-1234@db.example:6432/dw"}, "postgres://db.example:6432", "dw", "public"},
		{Config{DSN: "postgres://shp:pw-1234@db.example/dw?search_path=mart,public"}, "postgres://db.example:5432", "dw", "mart"},
		{Config{DSN: "host=10.1.2.3 dbname=dw user=shp password=pw-1234", Schema: "sales"}, "postgres://10.1.2.3:5432", "dw", "sales"},
		{Config{DSN: "postgres://shp@[::1]:5433/dw?search_path=%22%24user%22,x"}, "postgres://[::1]:5433", "dw", "public"},
	} {
		server, db, schema, err := c.cfg.Location()
		if err != nil || server != c.server || db != c.database || schema != c.schema {
			t.Errorf("%s: %s %s %s %v, want %s %s %s", c.cfg.DSN, server, db, schema, err, c.server, c.database, c.schema)
		}
	}
}

// TestDataset: lineage's name of a target, which holds no password.
func TestDataset(t *testing.T) {
	ns, name, ok := Spec().Dataset(map[string]any{"dsn": "postgres://shp:pw-1234@db.example:6432/dw", "schema": "mart"}, "sales")
	if !ok || ns != "postgres://db.example:6432" || name != "dw.mart.sales" {
		t.Errorf("dataset %s %s %v", ns, name, ok)
	}
	if _, _, ok := Spec().Dataset(map[string]any{"schema": "mart"}, "sales"); ok {
		t.Error("a dataset without a DSN")
	}
}

// TestDSNPasswordMasked: a DSN that does not parse is refused with a
// message that names the problem, not the password, in either form.
func TestDSNPasswordMasked(t *testing.T) {
	const pw = "PLANTED-pw-7e1c"
	for _, dsn := range []string{
		"postgres://shp:" + pw + "@db.example:notaport/dw",
		"host=db.example port=notaport user=shp password=" + pw,
		"host=db.example port=5432 user=shp password='" + pw + "' sslmode=sometimes",
	} {
		msg := checkDSN(dsn)
		if msg == "" {
			t.Errorf("%s: accepted", dsn)
			continue
		}
		if strings.Contains(msg, pw) {
			t.Errorf("the message shows the password: %s", msg)
		}
		if !strings.Contains(msg, "not a PostgreSQL connection string") {
			t.Errorf("message %q", msg)
		}
	}
	if msg := checkDSN("postgres://shp:" + pw + "@db.example:5432/dw?sslmode=require"); msg != "" {
		t.Errorf("a good DSN refused: %s", msg)
	}
	// The password the driver reads, from the DSN or the environment, is
	// masked in any error, which keeps its chain.
	base := errors.New("failed to connect to `user=shp`: password " + pw + " rejected")
	err := MaskDSN("host=db user=shp password="+pw, base)
	if strings.Contains(err.Error(), pw) || !errors.Is(err, base) {
		t.Errorf("masked %q (unwraps: %v)", err, errors.Is(err, base))
	}
	t.Setenv("PGPASSWORD", pw)
	if err := MaskDSN("postgres://shp@db/dw", base); strings.Contains(err.Error(), pw) {
		t.Errorf("PGPASSWORD shown: %s", err)
	}
}

func TestChecks(t *testing.T) {
	for _, c := range []struct {
		check func(any) string
		v     any
		bad   bool
	}{
		{checkSchema, "analytics", false},
		{checkSchema, strings.Repeat("s", 64), true},
		{checkConnections, 0, false},
		{checkConnections, 1, true},
		{checkConnections, 2, false},
		{checkConnections, -3, true},
	} {
		if got := c.check(c.v); (got != "") != c.bad {
			t.Errorf("check %v: %q", c.v, got)
		}
	}
}
