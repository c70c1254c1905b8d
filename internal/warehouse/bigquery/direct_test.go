package bigquery

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"cloud.google.com/go/storage"
	"github.com/fsouza/fake-gcs-server/fakestorage"
	"github.com/parquet-go/parquet-go"
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
		parquet    bool   // Parquet, not CSV
		gzip       int    // compressed in this many gzip members
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
		// The emulator loads a gzip object as no rows (real BigQuery
		// decompresses it): the count check sends it through shp.
		{name: "gzip csv", schema: typed, gzip: 1,
			data: "id,name,amount\n1,\"a, b\",1.5\n2,b,2\n3,c,3\n"},
		{name: "gzip csv in three members", schema: typed, gzip: 3,
			data: "id,name,amount\n1,a,1.5\n2,b,2\n3,c,3\n"},
		{name: "gzip json", jsonl: true, schema: jtyped, gzip: 2,
			data: `{"id":1,"name":"a"}` + "\n" + `{"id":2,"amount":2.50}` + "\n" + `{"id":3}` + "\n"},

		{name: "parquet: every type a load job reads as shp does, inferred", parquet: true, direct: true,
			data: parquetOf(t, []pqEvery{{1, ptr("a"), 1.5, true, 20454, at, 12345}, {-2, nil, -0.25, false, 0, at.Add(time.Microsecond), -1}})},
		{name: "parquet: declared with the file's types, one extra, one missing", parquet: true, schema: jtyped, direct: true,
			data: parquetOf(t, []pqEvery{{1, ptr("a"), 1.5, true, 20454, at, 12345}})},
		{name: "parquet: declared NUMERIC(5,1) narrower than the file's", parquet: true,
			schema: `[{"name":"id","type":"INT64"},{"name":"amount","type":"NUMERIC","precision":"5","scale":"1"}]`,
			data:   parquetOf(t, []pqEvery{{1, nil, 0, false, 0, at, 5}})},
		{name: "parquet: declared NUMERIC(12,3) as wide", parquet: true, direct: true,
			schema: `[{"name":"id","type":"INT64"},{"name":"amount","type":"NUMERIC","precision":"12","scale":"3"}]`,
			data:   parquetOf(t, []pqEvery{{1, nil, 0, false, 0, at, 5}})},
		{name: "parquet: a type other than the file's", parquet: true, schema: `[{"name":"id","type":"STRING"}]`,
			data: parquetOf(t, []pqEvery{{1, ptr("a"), 1.5, true, 20454, at, 1}})},
		{name: "parquet: a REQUIRED column empty", parquet: true, schema: `[{"name":"id","type":"INT64"},{"name":"name","type":"STRING","mode":"REQUIRED"}]`,
			data: parquetOf(t, []pqEvery{{1, ptr("a"), 0, false, 0, at, 0}, {2, nil, 0, false, 0, at, 0}})},
		{name: "parquet: a unique merge key", parquet: true, schema: jtyped, key: []string{"id"}, direct: true,
			data: parquetOf(t, []pqEvery{{1, ptr("a"), 0, false, 0, at, 0}, {2, nil, 0, false, 0, at, 0}})},
		{name: "parquet: a key twice", parquet: true, schema: jtyped, key: []string{"id"},
			data: parquetOf(t, []pqEvery{{1, ptr("a"), 0, false, 0, at, 0}, {1, ptr("b"), 0, false, 0, at, 0}})},
		{name: "parquet: 32-bit floats", parquet: true, data: parquetOf(t, []pqFloat32{{1, 0.1}})},
		{name: "parquet: nanoseconds", parquet: true, data: parquetOf(t, []pqNanos{{1, at.Add(time.Nanosecond)}})},
		{name: "parquet: milliseconds (the emulator reads them as microseconds)", parquet: true, data: parquetOf(t, []pqMillis{{1, at.UnixMilli()}})},
		{name: "parquet: local timestamps (the emulator misreads them)", parquet: true, data: parquetOf(t, []pqLocal{{1, at.UnixMicro()}})},
		{name: "parquet: unsigned integers", parquet: true, data: parquetOf(t, []pqUnsigned{{1, 1 << 63}})},
		{name: "parquet: a decimal wider than NUMERIC", parquet: true, data: parquetOf(t, []pqWide{{1, 5}})},
	}
	ctx := context.Background()
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !quick[tt.name] && os.Getenv(SuiteEnv) == "" {
				t.Skipf("runs with %s=1 (make bigquery-suite): every case takes a new emulator", SuiteEnv)
			}
			// A new emulator for each case: one slows with every table it
			// holds. Each takes memory of its analyzer's 2 GiB that is not
			// all given back, so the quick run takes only some cases.
			w := openTest(t, freshKey())
			f, ext := format.CSV, "csv"
			switch {
			case tt.jsonl:
				f, ext = format.JSONL, "jsonl"
			case tt.parquet:
				f, ext = format.Parquet, "parquet"
			}
			key := fmt.Sprintf("p/run-1/object-%d.%s", i, ext)
			stored, comp := tt.data, format.None
			if tt.gzip > 0 {
				stored, comp, key = gzipped(t, tt.data, tt.gzip), format.Gzip, key+".gz"
			}
			gcs.CreateObject(fakestorage.Object{ObjectAttrs: fakestorage.ObjectAttrs{BucketName: "stage", Name: key}, Content: []byte(stored)})
			spec := warehouse.LoadSpec{RunID: "r1", Pipeline: "p", Target: fmt.Sprintf("t%d", i), ObjectKey: key,
				Format: f, Compression: comp, Key: tt.key, CSV: warehouse.CSVOptions{NullValues: tt.nulls}}
			if tt.tokens != nil {
				spec.Parse = map[string]warehouse.ColumnParse{"name": {NullTokens: tt.tokens}}
			}
			if tt.schema != "" {
				spec.Schema = mustSchema(t, tt.schema)
			}
			streamed := spec
			streamed.Path = writeFile(t, "object."+ext, stored)
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
			fromURI.OpenAt = func(context.Context) (io.ReaderAt, int64, error) {
				return strings.NewReader(stored), int64(len(stored)), nil
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

// gzipped compresses data in members gzip members.
func gzipped(t *testing.T, data string, members int) string {
	t.Helper()
	var b bytes.Buffer
	per := len(data)/members + 1
	for i := 0; i < len(data); i += per {
		z := gzip.NewWriter(&b)
		if _, err := z.Write([]byte(data[i:min(i+per, len(data))])); err != nil {
			t.Fatal(err)
		}
		if err := z.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

// pqEvery is a Parquet row of every type a load job reads as shp does.
type pqEvery struct {
	ID     int64     `parquet:"id"`
	Name   *string   `parquet:"name,optional"`
	Score  float64   `parquet:"score"`
	OK     bool      `parquet:"ok"`
	Day    int32     `parquet:"day,date"`
	At     time.Time `parquet:"at,timestamp(microsecond)"`
	Amount int64     `parquet:"amount,decimal(2:10)"`
}

type pqFloat32 struct {
	ID int64   `parquet:"id"`
	F  float32 `parquet:"f"`
}

type pqNanos struct {
	ID int64     `parquet:"id"`
	At time.Time `parquet:"at,timestamp(nanosecond)"`
}

type pqLocal struct {
	ID int64 `parquet:"id"`
	At int64 `parquet:"at,timestamp(microsecond:local)"`
}

type pqMillis struct {
	ID int64 `parquet:"id"`
	At int64 `parquet:"at,timestamp(millisecond:local)"`
}

type pqUnsigned struct {
	ID int64  `parquet:"id"`
	U  uint64 `parquet:"u"`
}

type pqWide struct {
	ID int64 `parquet:"id"`
	D  int64 `parquet:"d,decimal(12:18)"`
}

// at is a timestamp with microseconds.
var at = time.Date(2026, 3, 4, 5, 6, 7, 891011000, time.UTC)

func ptr[T any](v T) *T { return &v }

// parquetOf writes rows as a Parquet file.
func parquetOf[T any](t *testing.T, rows []T) string {
	t.Helper()
	var b bytes.Buffer
	if err := parquet.Write(&b, rows); err != nil {
		t.Fatal(err)
	}
	return b.String()
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

// quick are the cases of TestDirectLoadFromGCS that run in every test
// run: each path of each format, direct and given way.
var quick = map[string]bool{
	"clean, quoted delimiters and newlines":                           true,
	"no schema: the columns inferred":                                 true,
	"a value that does not convert":                                   true,
	"a key twice: the last copy wins by file order":                   true,
	"shp counted other records":                                       true,
	"json: clean, every kind of scalar":                               true,
	"json: members in another order, one extra, one missing":          true,
	"json: no schema, the columns inferred":                           true,
	"json: a nested value":                                            true,
	"json: BigQuery read a value otherwise":                           true,
	"gzip json":                                                       true,
	"parquet: every type a load job reads as shp does, inferred":      true,
	"parquet: declared with the file's types, one extra, one missing": true,
	"parquet: a type other than the file's":                           true,
	"parquet: a REQUIRED column empty":                                true,
	"parquet: 32-bit floats":                                          true,
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
