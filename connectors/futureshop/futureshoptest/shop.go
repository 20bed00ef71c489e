package futureshoptest

import (
	"fmt"
	"slices"
	"time"
)

// Order statuses, as the API writes them. COMPLETED (処理済み) and
// AWAITING_PAYMENT are seen in bodies captured from the real API; the
// status of a paid order not yet processed is not, and is an assumption
// kept here so that a confirmed name is a one-line change.
const (
	StatusReceived        = "AWAITING_SHIPMENT" // assumed: paid, not yet processed; seeded orders start here
	StatusAwaitingPayment = "AWAITING_PAYMENT"
	StatusCompleted       = "COMPLETED" // 処理済み, after POST /admin-api/v1/order/complete
)

// Shipment statuses.
const (
	ShipmentNotShipped = "未発送"
	ShipmentShipped    = "発送済み" // after a shippingDate is written
)

// Payment statuses, as the search filter names them.
const (
	PaymentNotReceived = "notReceived"
	PaymentReceived    = "received"
)

// Order is an order in the fake shop. Times are instants (the server writes
// them as JST without a zone); dates are "yyyy-mm-dd" strings and "" is
// unset, as on the wire.
type Order struct {
	OrderNo       string     `json:"orderNo"`
	OrderedAt     time.Time  `json:"orderedAt"`
	Status        string     `json:"status"`
	UpdatedAt     time.Time  `json:"updatedAt"`
	GrandTotal    int64      `json:"grandTotal"`
	PaymentStatus string     `json:"paymentStatus"`
	Buyer         Buyer      `json:"buyer"`
	Shipments     []Shipment `json:"shipments"`
}

// Buyer is the buyer of an order.
type Buyer struct {
	LastName      string `json:"lastName"`
	FirstName     string `json:"firstName"`
	LastNameKana  string `json:"lastNameKana"`
	FirstNameKana string `json:"firstNameKana"`
	Email         string `json:"email"`
	Phone         string `json:"phone"`
	Zip           string `json:"zip"`
	// Prefecture is the API's code for it, such as TOKYO.
	Prefecture string `json:"prefecture"`
	Address1   string `json:"address1"`
	Address2   string `json:"address2"`
	Address3   string `json:"address3"`
}

// Shipment is one shipment (発送先) of an order.
type Shipment struct {
	ShipmentNo int    `json:"shipmentNo"`
	Status     string `json:"status"` // ShipmentNotShipped or ShipmentShipped
	// StorePickup marks a store-pickup shipment: updates to it fail with
	// CannotUpdateStorePickup, as on the real service.
	StorePickup bool `json:"storePickup,omitempty"`

	DeliveryServiceName   string `json:"deliveryServiceName"`
	InvoiceNo             string `json:"invoiceNo"`
	ExpectedArrival       string `json:"expectedArrival"`
	PreferredDeliveryDate string `json:"preferredDeliveryDate"`
	PreferredDeliveryTime string `json:"preferredDeliveryTime"`
	ShippingDate          string `json:"shippingDate"`

	Products []Product `json:"products"`
}

// Product is one product line of a shipment.
type Product struct {
	ProductNo string          `json:"productNo"`
	SkuNo     string          `json:"skuNo"`
	Name      string          `json:"name"`
	Price     int64           `json:"price"` // unit price without options
	Count     int64           `json:"count"`
	Options   []ProductOption `json:"options,omitempty"`
}

// ProductOption is a priced option of a product line.
type ProductOption struct {
	Name      string `json:"name"`
	Selection string `json:"selection"`
	Price     int64  `json:"price"`
}

func (o Order) clone() Order {
	o.Shipments = slices.Clone(o.Shipments)
	for i := range o.Shipments {
		sh := &o.Shipments[i]
		sh.Products = slices.Clone(sh.Products)
		for j := range sh.Products {
			sh.Products[j].Options = slices.Clone(sh.Products[j].Options)
		}
	}
	return o
}

func (o *Order) shipment(no int) *Shipment {
	for i := range o.Shipments {
		if o.Shipments[i].ShipmentNo == no {
			return &o.Shipments[i]
		}
	}
	return nil
}

func (o *Order) shipped() bool {
	for _, sh := range o.Shipments {
		if sh.Status != ShipmentShipped {
			return false
		}
	}
	return len(o.Shipments) > 0
}

var jst = time.FixedZone("JST", 9*60*60)

// NewOrder returns an order as a shop holds it right after checkout: status
// StatusReceived, payment received, and shipment 1 not shipped with one
// product line.
func NewOrder(orderNo string, orderedAt time.Time) Order {
	return Order{
		OrderNo:       orderNo,
		OrderedAt:     orderedAt,
		Status:        StatusReceived,
		UpdatedAt:     orderedAt,
		GrandTotal:    3300,
		PaymentStatus: PaymentReceived,
		Buyer: Buyer{LastName: "山田", FirstName: "花子", LastNameKana: "ヤマダ", FirstNameKana: "ハナコ",
			Email: "hanako@example.jp", Phone: "03-0000-0000", Zip: "100-0001", Prefecture: "TOKYO",
			Address1: "千代田区千代田", Address2: "1-1"},
		Shipments: []Shipment{{
			ShipmentNo: 1,
			Status:     ShipmentNotShipped,
			Products: []Product{{
				ProductNo: "P-" + orderNo[max(0, len(orderNo)-4):], SkuNo: "SKU-1", Name: "テスト商品",
				Price: 3000, Count: 1,
			}},
		}},
	}
}

// SampleOrders returns the futureshop orders of the GoQ sample export
// (fixtures/goq/orders-sample.csv: 100000001201 to 100000001214, except
// 100000001209, which that export does not hold), each as NewOrder makes
// it, with the export's order dates. A demo seeds the server with them.
func SampleOrders() []Order {
	dates := []struct {
		no int
		at string
	}{
		{1201, "2026-11-20 14:03:11"}, {1202, "2026-11-21 08:00:00"}, {1203, "2026-11-27 22:10:05"},
		{1204, "2026-11-22 10:00:00"}, {1205, "2026-11-18 12:00:00"}, {1206, "2026-11-19 12:00:00"},
		{1207, "2026-06-10 23:59:59"}, {1208, "2026-06-11 00:00:00"}, {1210, "2026-11-24 09:00:00"},
		{1211, "2026-11-24 10:30:00"}, {1212, "2026-11-25 11:00:00"}, {1213, "2026-11-25 12:00:00"},
		{1214, "2026-11-26 13:00:00"},
	}
	orders := make([]Order, 0, len(dates))
	for _, d := range dates {
		at, err := time.ParseInLocation("2006-01-02 15:04:05", d.at, jst)
		if err != nil {
			panic(err) // a typo in the table above
		}
		orders = append(orders, NewOrder(fmt.Sprintf("10000000%d", d.no), at))
	}
	return orders
}
