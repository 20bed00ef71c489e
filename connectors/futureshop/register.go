package futureshop

import "github.com/goqsync/runner/engine"

// credentialSettings are the settings the source and the destination share.
var credentialSettings = []engine.Setting{
	{Name: "api_domain", Required: true, Doc: "the shop's API host, or a full URL (plain http only on loopback)"},
	{Name: "shop_key", Required: true, Doc: "the shop key (ショップキー)"},
	{Name: "client_id", Required: true, Doc: "the API client ID"},
	{Name: "client_secret", Required: true, Doc: "the API client secret; use env(\"NAME\")"},
	{Name: "rate_limit", Doc: "requests per second, default 1, shared by every job using the same credentials"},
	{Name: "timeout", Doc: "per HTTP call, a Go duration, default 30s"},
}

// SourceInfo describes the source "futureshop".
var SourceInfo = engine.SourceInfo{
	Name: "futureshop",
	Doc:  "futureshop's order search, one record per product line",
	Settings: append(append([]engine.Setting(nil), credentialSettings...),
		engine.Setting{Name: "days", Doc: "how many days back the search looks, default 10"},
		engine.Setting{Name: "shipping_status", Doc: "only orders in this shipping status"},
		engine.Setting{Name: "payment_status", Doc: "only orders in this payment status"},
	),
	Fields: sourceFields,
	New:    NewSource,
}

// DestinationInfo describes the destination "futureshop".
var DestinationInfo = engine.DestinationInfo{
	Name: "futureshop",
	Doc:  "futureshop's 発送API: ship date, tracking number and arrival date per shipment",
	Settings: append(append([]engine.Setting(nil), credentialSettings...),
		engine.Setting{Name: "batch_size", Doc: "orders per call, at most and by default 100"},
		engine.Setting{Name: "points_activation", Doc: "the shop's ポイント有効処理設定, for the points caveat"},
		engine.Setting{Name: "park_not_found_after", Doc: "runs in a row an order the shop does not know is tried before it is parked, default 3"},
	),
	Fields: destinationFields(),
	Actions: []engine.Action{
		{Name: ActionCompleteOrder, Doc: "moves each order whose shipping update succeeded to 処理済み", Needs: []string{fieldShippingDate}},
	},
	New: NewDestination,
}

// Register adds the source and the destination "futureshop" to r.
func Register(r *engine.Registry) {
	r.RegisterSource(SourceInfo)
	r.RegisterDestination(DestinationInfo)
}
