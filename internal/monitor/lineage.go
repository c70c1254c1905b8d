package monitor

import (
	"slices"
	"strings"

	"github.com/shp-dev/shp/internal/config"
	"github.com/shp-dev/shp/internal/lineage"
)

// upstreamOf maps each pipeline to those it depends on: its depends_on,
// and the pipelines whose target table its source reads (the lineage
// shp records: a source's dataset is another pipeline's target dataset).
func upstreamOf(p *config.Project) map[string][]string {
	out := map[string][]string{}
	if p == nil {
		return out
	}
	targets := map[string][]string{} // dataset -> pipelines writing it
	for _, name := range p.PipelineNames() {
		pl, _ := p.Pipeline(name)
		d := lineage.TargetDataset(p, pl.Target)
		key := datasetKey(d)
		targets[key] = append(targets[key], name)
	}
	for _, name := range p.PipelineNames() {
		pl, _ := p.Pipeline(name)
		ups := slices.Clone(pl.DependsOn)
		if src, ok := p.Sources[pl.Source]; ok {
			for _, up := range targets[datasetKey(lineage.SourceDataset(p, src))] {
				if up != name && !slices.Contains(ups, up) {
					ups = append(ups, up)
				}
			}
		}
		if len(ups) > 0 {
			out[name] = ups
		}
	}
	return out
}

// datasetKey compares datasets as OpenLineage names them, a table named
// without its default schema (public, main) the same as with it.
func datasetKey(d lineage.Dataset) string {
	parts := strings.Split(d.Name, ".")
	kept := parts[:0]
	for i, part := range parts {
		if i < len(parts)-1 && (part == "public" || part == "main") {
			continue
		}
		kept = append(kept, part)
	}
	return d.Namespace + "|" + strings.Join(kept, ".")
}
