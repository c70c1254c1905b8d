package cli

import (
	"bytes"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/shp-dev/shp/internal/config"
	"github.com/shp-dev/shp/internal/config/spec"
)

// referenceKinds are the kinds `shp config spec` documents, in the order
// it prints them, with the README section of each.
var referenceKinds = []struct{ kind, title, section string }{
	{spec.KindWarehouse, "Warehouses", "spec:warehouses"},
	{spec.KindSource, "Sources", "spec:sources"},
}

func newSpecCmd(e *env) *cobra.Command {
	var readme string
	var check bool
	cmd := &cobra.Command{
		Use:   "spec [warehouse|source] [NAME...]",
		Short: "Print the keys, types, defaults and docs of the warehouses and sources this build knows (Markdown)",
		Long: "Print the reference of what config.yaml's warehouse and each source of sources.yaml take, " +
			"from the specs the warehouses and sources register: all of them, those of one kind, or the named ones.\n\n" +
			"With --readme FILE, rewrite instead the reference sections of FILE, between <!-- spec:warehouses --> and " +
			"<!-- /spec:warehouses --> and between <!-- spec:sources --> and <!-- /spec:sources --> (make docs); " +
			"with --check as well, change nothing and fail when they are not what the specs give.",
		RunE: func(cmd *cobra.Command, args []string) error {
			if readme != "" {
				if len(args) > 0 {
					return usageErr(fmt.Errorf("--readme rewrites every reference section: give no kind or name"))
				}
				return rewriteReadme(e, readme, check)
			}
			if check {
				return usageErr(fmt.Errorf("--check goes with --readme"))
			}
			if len(args) == 0 {
				for i, k := range referenceKinds {
					ref, err := config.Reference(k.kind)
					if err != nil {
						return usageErr(err)
					}
					if i > 0 {
						fmt.Fprintln(e.stdout)
					}
					fmt.Fprintf(e.stdout, "### %s\n\n%s\n", k.title, ref)
				}
				return nil
			}
			kind := strings.TrimSuffix(strings.ToLower(args[0]), "s")
			ref, err := config.Reference(kind, args[1:]...)
			if err != nil {
				return usageErr(err)
			}
			fmt.Fprintln(e.stdout, ref)
			return nil
		},
	}
	cmd.Flags().StringVar(&readme, "readme", "", "rewrite the reference sections of this Markdown file instead of printing")
	cmd.Flags().BoolVar(&check, "check", false, "with --readme: change nothing; fail when the sections are stale")
	return cmd
}

// rewriteReadme puts the generated reference between the markers of the
// Markdown file path, or with check reports whether it is there already.
func rewriteReadme(e *env, path string, check bool) error {
	doc, err := os.ReadFile(path)
	if err != nil {
		return usageErr(err)
	}
	out, err := ReferenceSections(doc)
	if err != nil {
		return usageErr(fmt.Errorf("%s: %w", path, err))
	}
	if bytes.Equal(doc, out) {
		fmt.Fprintf(e.stdout, "%s: the reference is up to date\n", path)
		return nil
	}
	if check {
		return failedErr(fmt.Errorf("%s: the reference is not what the specs give (%s); run make docs", path, firstDifference(doc, out)))
	}
	if err := os.WriteFile(path, out, 0o644); err != nil {
		return failedErr(err)
	}
	fmt.Fprintf(e.stdout, "%s: rewrote the reference\n", path)
	return nil
}

// ReferenceSections returns doc, a Markdown document, with the reference
// of each kind `shp config spec` documents between its markers, e.g.
// <!-- spec:sources --> and <!-- /spec:sources -->; the rest of doc is
// kept as it is. Each pair of markers must be there once.
func ReferenceSections(doc []byte) ([]byte, error) {
	for _, k := range referenceKinds {
		ref, err := config.Reference(k.kind)
		if err != nil {
			return nil, err
		}
		begin, end := "<!-- "+k.section+" -->", "<!-- /"+k.section+" -->"
		i, j := bytes.Index(doc, []byte(begin)), bytes.Index(doc, []byte(end))
		switch {
		case i < 0 || j < 0:
			return nil, fmt.Errorf("no %s ... %s markers", begin, end)
		case bytes.Count(doc, []byte(begin)) > 1 || bytes.Count(doc, []byte(end)) > 1:
			return nil, fmt.Errorf("the %s markers appear more than once", begin)
		case j < i:
			return nil, fmt.Errorf("%s comes before %s", end, begin)
		}
		var b bytes.Buffer
		b.Write(doc[:i+len(begin)])
		b.WriteString("\n" + ref + "\n")
		b.Write(doc[j:])
		doc = b.Bytes()
	}
	return doc, nil
}

// firstDifference describes the first line where a and b differ.
func firstDifference(a, b []byte) string {
	al, bl := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	for i := 0; i < len(al) || i < len(bl); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			return fmt.Sprintf("line %d is %q, the specs give %q", i+1, x, y)
		}
	}
	return "they differ"
}
