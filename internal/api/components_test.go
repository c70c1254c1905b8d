package api

// The tests' projects use database sources, whose spec the configuration
// checks them against: link it (the binary links every component).
import _ "github.com/shp-dev/shp/internal/source/sqlsource"
