package scheduler

import "github.com/shp-dev/shp/internal/metadata"

// The metadata store is where schedulers claim intervals.
var _ ClaimStore = metadata.Store(nil)
