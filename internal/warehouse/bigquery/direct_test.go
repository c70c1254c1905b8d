package bigquery

import (
	"context"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"
	"testing"
	"unicode/utf8"

	"cloud.google.com/go/storage"
	"github.com/fsouza/fake-gcs-server/fakestorage"
	"google.golang.org/api/option"

	"github.com/shp-dev/shp/internal/format"
	"github.com/shp-dev/shp/internal/warehouse"
)

// TestDirectLoadFromGCS stages objects from a gs:// staging bucket (an
// in-process fake-gcs-server the emulator reads through
// STORAGE_EMULATOR_HOST) and checks, for each, that the result is the
// one shp's own reading of the same bytes gives (rows staged, rows set
// aside with their lines and reasons, drift, every staged value), and
// which path it took: a load job from the URI for a clean object, shp's
// reading whenever a line must be accounted for.
func TestDirectLoadFromGCS(t *testing.T) {
	if realProject() != "" {
		t.Skip("needs a Cloud Storage bucket the project can read; runs on the emulator")
	}
	gcs, err := fakestorage.NewServerWithOptions(fakestorage.Options{Scheme: "http", Host: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(gcs.Stop)
	gcs.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: "stage"})
	t.Setenv("STORAGE_EMULATOR_HOST", gcs.URL())
	client, err := storage.NewClient(context.Background(), option.WithEndpoint(gcs.URL()+"/storage/v1/"),
		option.WithoutAuthentication(), storage.WithJSONReads())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })

	const typed = `[{"name":"id","type":"INT64","mode":"REQUIRED"},{"name":"name","type":"STRING"},{"name":"amount","type":"NUMERIC"},{"name":"day","type":"DATE"},{"name":"ok","type":"BOOL"}]`
	const jtyped = `[{"name":"id","type":"INT64","mode":"REQUIRED"},{"name":"name","type":"STRING"},{"name":"amount","type":"NUMERIC"},{"name":"day","type":"DATE"},{"name":"ok","type":"BOOL"},{"name":"score","type":"FLOAT64"}]`
	tests := []struct {
		name, data string
		jsonl      bool   // JSON Lines, not CSV
		schema     string // "" infers the columns
		key        []string
		nulls      []string
		tokens     []string // null tokens of the column name
		records    int64    // shp's count when it differs from the data's
		tamper     bool     // BigQuery read a value otherwise than shp's profile of it
		direct     bool     // a load job from the URI staged it
	}{
		{name: "clean, quoted delimiters and newlines", schema: typed, direct: true,
			data: "id,name,amount,day,ok\n1,\"a, b\",1.50,2026-01-02,true\n2,\"line\nbreak\",-3,2026-02-28,f\n3,,,,\n"},
		{name: "columns in another order, one extra, one missing", schema: typed, direct: true,
			data: "day,extra,id,name\n2026-03-01,x,7,g\n2026-03-02,y,8,\"h \"\"q\"\"\"\n"},
		{name: "null values of the source", schema: typed, nulls: []string{"NA", ""}, direct: true,
			data: "id,name,amount,day,ok\n1,NA,NA,NA,NA\n2,n,2.5,2026-01-01,1\n"},
		{name: "no schema: the columns inferred", direct: true,
			data: "a,b,c,d\n1,2.5,2026-01-02,x\n2,3,2026-01-03,y\n"},
		{name: "unique merge keys", schema: typed, key: []string{"id"}, direct: true,
			data: "id,name\n1,a\n2,b\n"},
		{name: "a value that does not convert", schema: typed,
			data: "id,name,amount,day,ok\n1,a,1,2026-01-01,t\n2,b,x,2026-01-02,t\n3,c,3,2026-02-30,t\n"},
		{name: "a REQUIRED column empty", schema: typed,
			data: "id,name\n1,a\n,b\n"},
		{name: "a record with a field too many", schema: typed,
			data: "id,name\n1,a\n2,b,c\n3,c\n"},
		{name: "a key twice: the last copy wins by file order", schema: typed, key: []string{"id"},
			data: "id,name\n1,first\n2,b\n1,last\n"},
		{name: "shp counted other records", schema: typed, records: 3,
			data: "id,name\n1,a\n2,b\n"},
		{name: "semicolons", schema: typed,
			data: "id;name\n1;a\n2;b;\n"},

		{name: "json: clean, every kind of scalar", jsonl: true, schema: jtyped, direct: true,
			data: `{"id":1,"name":"a \"q\" \u00e9\t","amount":1.50,"day":"2026-01-02","ok":true,"score":1e3}` + "\n" +
				`{"id":2,"name":"","amount":"-3","day":null,"ok":"false","score":-0.25}` + "\n" +
				`{"id":3}` + "\n"},
		{name: "json: members in another order, one extra, one missing", jsonl: true, schema: jtyped, direct: true,
			data: `{"day":"2026-03-01","extra":"x","id":7,"name":"g"}` + "\n" + `{"name":"h","id":8,"extra":1}` + "\n\n"},
		{name: "json: no schema, the columns inferred", jsonl: true, direct: true,
			data: `{"a":1,"b":2.5,"c":true,"d":"x","e":null}` + "\n" + `{"a":-2,"b":3,"c":false,"d":"2026-01-01","e":null}` + "\n"},
		{name: "json: a number wider than INT64 into NUMERIC", jsonl: true, schema: `[{"name":"id","type":"INT64"},{"name":"amount","type":"NUMERIC"}]`, direct: true,
			data: `{"id":1,"amount":12345678901234567890}` + "\n" + `{"id":2,"amount":0.000000001}` + "\n"},
		{name: "json: null tokens", jsonl: true, schema: jtyped, tokens: []string{"N/A"}, direct: true,
			data: `{"id":1,"name":" n/a "}` + "\n" + `{"id":2,"name":"b"}` + "\n"},
		{name: "json: unique merge keys", jsonl: true, schema: jtyped, key: []string{"id"}, direct: true,
			data: `{"id":1}` + "\n" + `{"id":2}` + "\n"},
		{name: "json: a value that does not convert", jsonl: true, schema: jtyped,
			data: `{"id":1,"amount":"x"}` + "\n" + `{"id":2.5}` + "\n"},
		{name: "json: a nested value", jsonl: true, schema: jtyped,
			data: `{"id":1,"name":{"first":"a"}}` + "\n" + `{"id":2,"name":[1,2]}` + "\n"},
		{name: "json: a record that is not an object", jsonl: true, schema: jtyped,
			data: `{"id":1}` + "\n" + `[1]` + "\n" + `{"id":3` + "\n"},
		{name: "json: a key twice", jsonl: true, schema: jtyped, key: []string{"id"},
			data: `{"id":1,"name":"first"}` + "\n" + `{"id":1,"name":"last"}` + "\n"},
		{name: "json: a member twice in one record", jsonl: true, schema: jtyped,
			data: `{"id":1,"name":"a","name":"b"}` + "\n"},
		{name: "json: a member no column can be named", jsonl: true, schema: jtyped,
			data: `{"id":1,"a-b":"x"}` + "\n"},
		{name: "json: BigQuery read a value otherwise", jsonl: true, schema: jtyped, tamper: true,
			data: `{"id":1,"amount":1.50}` + "\n"},
	}
	ctx := context.Background()
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := openTest(t, freshKey()) // the emulator slows with every table it holds
			f, ext := format.CSV, "csv"
			if tt.jsonl {
				f, ext = format.JSONL, "jsonl"
			}
			key := fmt.Sprintf("p/run-1/object-%d.%s", i, ext)
			gcs.CreateObject(fakestorage.Object{ObjectAttrs: fakestorage.ObjectAttrs{BucketName: "stage", Name: key}, Content: []byte(tt.data)})
			spec := warehouse.LoadSpec{RunID: "r1", Pipeline: "p", Target: fmt.Sprintf("t%d", i), ObjectKey: key,
				Format: f, Key: tt.key, CSV: warehouse.CSVOptions{NullValues: tt.nulls}}
			if tt.tokens != nil {
				spec.Parse = map[string]warehouse.ColumnParse{"name": {NullTokens: tt.tokens}}
			}
			if tt.schema != "" {
				spec.Schema = mustSchema(t, tt.schema)
			}
			streamed := spec
			streamed.Path = writeFile(t, "object."+ext, tt.data)
			want, err := w.Stage(ctx, streamed)
			if err != nil {
				t.Fatal(err)
			}
			fromURI := spec
			fromURI.URI = "gs://stage/" + key
			fromURI.Open = func(ctx context.Context) (io.ReadCloser, error) {
				return client.Bucket("stage").Object(key).NewReader(ctx)
			}
			fromURI.Records, fromURI.UTF8 = want.Loaded+want.Quarantined, utf8.ValidString(tt.data)
			if tt.records != 0 {
				fromURI.Records = tt.records
			}
			if tt.jsonl {
				fromURI.Profile = profileOf(t, tt.data)
				if tt.tamper {
					fromURI.Profile.Members[len(fromURI.Profile.Members)-1].Fingerprint ^= 1
				}
			}
			before := w.directLoads.Load()
			got, err := w.Stage(ctx, fromURI)
			if err != nil {
				t.Fatal(err)
			}
			if direct := w.directLoads.Load() > before; direct != tt.direct {
				t.Errorf("loaded from the URI: %v, want %v", direct, tt.direct)
			}
			if got.Loaded != want.Loaded || got.Quarantined != want.Quarantined ||
				!reflect.DeepEqual(got.Samples, want.Samples) || !reflect.DeepEqual(got.Drift, want.Drift) ||
				!reflect.DeepEqual(got.Columns, want.Columns) {
				t.Errorf("from the URI: %d staged, %d set aside %v, drift %q, columns %v\nshp's reading: %d staged, %d set aside %v, drift %q, columns %v",
					got.Loaded, got.Quarantined, got.Samples, got.Drift, got.Columns, want.Loaded, want.Quarantined, want.Samples, want.Drift, want.Columns)
			}
			// A load job keeps no line: the staged values must agree.
			if g, wnt := stagedRows(t, w, got, tt.direct), stagedRows(t, w, want, tt.direct); !reflect.DeepEqual(g, wnt) {
				t.Errorf("staged rows from the URI %q, by shp's reading %q", g, wnt)
			}
		})
	}
}

// profileOf profiles a JSON Lines object as the pipeline's copy does.
func profileOf(t *testing.T, data string) *format.JSONProfile {
	t.Helper()
	p := &format.JSONProfile{}
	if _, _, err := format.NormalizeJSON(strings.NewReader(data), p, true, func(int64, []byte, string) error { return nil }); err != nil {
		t.Fatal(err)
	}
	return p
}

// stagedRows are a staging table's rows (without their position, which
// a load job does not keep, nor their line with noLine), sorted, then
// its set-aside lines.
func stagedRows(t *testing.T, w *Warehouse, st *warehouse.Staged, noLine bool) []string {
	t.Helper()
	except := ident(rowCol)
	if noLine {
		except += ", " + ident(lineCol)
	}
	rows := lines(t, w, "SELECT * EXCEPT ("+except+") FROM "+stagingRef(st.Table))
	sort.Strings(rows)
	q := lines(t, w, "SELECT line, reason FROM "+stagingRef(quarantineOf(st.Table))+" ORDER BY line")
	return append(rows, q...)
}
