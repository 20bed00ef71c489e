package runner

import "embed"

// Files holds examples/*.hcl and testdata/orders-sample.csv under those
// paths.
//
//go:embed examples/*.hcl testdata/orders-sample.csv
var Files embed.FS

// Paths of the files runner demo uses by default.
const (
	ShippingExample = "examples/goq-to-futureshop.hcl"
	SampleExport    = "testdata/orders-sample.csv"
)
