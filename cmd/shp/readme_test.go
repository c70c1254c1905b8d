package main

import (
	"os"
	"strings"
	"testing"

	"github.com/shp-dev/shp/internal/cli"
)

// TestReadmeReference: README.md's reference of warehouses and sources
// (between its spec: markers) is what the specs of the components this
// binary links generate. make docs rewrites it.
func TestReadmeReference(t *testing.T) {
	doc, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	want, err := cli.ReferenceSections(doc)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(doc); got != string(want) {
		gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
		for i := 0; i < len(gl) && i < len(wl); i++ {
			if gl[i] != wl[i] {
				t.Fatalf("README.md's reference is stale (run make docs): line %d is\n%s\nthe specs give\n%s", i+1, gl[i], wl[i])
			}
		}
		t.Fatalf("README.md's reference is stale (run make docs): %d lines, the specs give %d", len(gl), len(wl))
	}
}
