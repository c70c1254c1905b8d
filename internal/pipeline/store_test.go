package pipeline

import "github.com/shp-dev/shp/internal/metadata"

// The metadata store is what a runner records its runs in.
var _ RunStore = metadata.Store(nil)
