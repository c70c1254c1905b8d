package healing

import "github.com/shp-dev/shp/internal/metadata"

// The metadata store is what the engine records in and trains from.
var (
	_ Store      = metadata.Store(nil)
	_ ModelStore = metadata.Store(nil)
)
