package sample

import (
	"bytes"
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFilesAreDeterministic(t *testing.T) {
	a, b := Files(), Files()
	for name, content := range a {
		if !bytes.Equal(content, b[name]) {
			t.Fatalf("%s differs between two calls", name)
		}
	}
}

func TestSampleDataHasTheAdvertisedDefects(t *testing.T) {
	files := Files()
	var lines int
	for day := 1; day <= Days; day++ {
		name := filepath.ToSlash(filepath.Join("data", "sales_2026-01-0"+string(rune('0'+day))+".csv"))
		content, ok := files[name]
		if !ok {
			t.Fatalf("missing %s", name)
		}
		r := csv.NewReader(bytes.NewReader(content))
		r.FieldsPerRecord = -1
		recs, err := r.ReadAll()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		lines += len(recs) - 1
		header := strings.Join(recs[0], ",")
		if day >= 4 != strings.HasSuffix(header, ",discount") {
			t.Errorf("%s header %q", name, header)
		}
	}
	if lines != Days*RowsPerDay {
		t.Fatalf("%d data rows, want %d", lines, Days*RowsPerDay)
	}
	if !bytes.Contains(files["data/sales_2026-01-02.csv"], []byte("\xe9")) {
		t.Error("day 2 should hold a non-UTF-8 byte")
	}
	if !bytes.Contains(files["data/sales_2026-01-03.csv"], []byte(",two,")) {
		t.Error("day 3 should hold a quantity that does not parse")
	}
	if !bytes.Contains(files["data/sales_2026-01-05.csv"], []byte(",28/12/2025,")) {
		t.Error("day 5 should write day-first dates, one of them past the 12th")
	}
}

func TestWriteRefusesToOverwrite(t *testing.T) {
	dir := t.TempDir()
	if err := Write(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "schemas", "sales_schema.json")); err != nil {
		t.Fatal(err)
	}
	if err := Write(dir); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("second Write: %v", err)
	}
	if err := Write(filepath.Join(dir, "config.yaml", "x")); err == nil {
		t.Fatal("writing under a file should fail")
	}
}
