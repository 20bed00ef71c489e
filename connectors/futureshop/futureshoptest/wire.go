package futureshoptest

import "time"

// The bodies the server answers with have the shapes of bodies captured
// from the real futureshop API: the order search nests each shipment's
// shipping fields in shippingInfo beside addressInfo, and its product lines
// carry skuNo but no productNo; the order detail lays the shipping fields
// flat on the shipment, its lines carry productNo, and only it has
// dateLastUpdated, paymentStatus and shopMemo. Keys the connector does not
// read are here too, so that a client reading too much or too little of a
// shape fails here first. Values are the server's own.

// searchOrder is an order as GET /admin-api/v1/shipping lists it.
type searchOrder struct {
	OrderNo                 string           `json:"orderNo"`
	Type                    string           `json:"type"`
	Date                    string           `json:"date"`
	Status                  string           `json:"status"`
	GrandTotal              int64            `json:"grandTotal"`
	TotalCost               int64            `json:"totalCost"`
	ProductTotal            int64            `json:"productTotal"`
	TaxTotal                int64            `json:"taxTotal"`
	DiscountTotal           int64            `json:"discountTotal"`
	GiftWrappingChargeTotal int64            `json:"giftWrappingChargeTotal"`
	Postage                 int64            `json:"postage"`
	CoolDeliveryChargeTotal int64            `json:"coolDeliveryChargeTotal"`
	TaxConfigEnabled        bool             `json:"taxConfigEnabled"`
	TaxRate                 int              `json:"taxRate"`
	TaxRoundingType         string           `json:"taxRoundingType"`
	StandardTax             int              `json:"standardTax"`
	ReducedTax              int              `json:"reducedTax"`
	UsedPointPrice          int64            `json:"usedPointPrice"`
	PaymentType             string           `json:"paymentType"`
	PaymentChargeTotal      int64            `json:"paymentChargeTotal"`
	ReceiptDate             string           `json:"receiptDate"`
	OricoProcedureDate      string           `json:"oricoProcedureDate"`
	IsMember                bool             `json:"isMember"`
	BuyerInfo               buyerInfo        `json:"buyerInfo"`
	ShipmentList            []searchShipment `json:"shipmentList"`
}

type buyerInfo struct {
	MemberID           string `json:"memberId"`
	LastName           string `json:"lastName"`
	FirstName          string `json:"firstName"`
	LastNameKana       string `json:"lastNameKana"`
	FirstNameKana      string `json:"firstNameKana"`
	Mail               string `json:"mail"`
	MobileMail         string `json:"mobileMail"`
	ZipCode            string `json:"zipCode"`
	Prefecture         string `json:"prefecture"`
	Address1           string `json:"address1"`
	Address2           string `json:"address2"`
	Address3           string `json:"address3"`
	TelNoMain          string `json:"telNoMain"`
	FaxNo              string `json:"faxNo"`
	Birthday           string `json:"birthday"`
	CompanyName        string `json:"companyName"`
	CompanyNameKana    string `json:"companyNameKana"`
	DepartmentName     string `json:"departmentName"`
	DepartmentNameKana string `json:"departmentNameKana"`
	CompanyTelNo       string `json:"companyTelNo"`
	CompanyFaxNo       string `json:"companyFaxNo"`
}

type addressInfo struct {
	LastName      string `json:"lastName"`
	FirstName     string `json:"firstName"`
	LastNameKana  string `json:"lastNameKana"`
	FirstNameKana string `json:"firstNameKana"`
	PostalCode    string `json:"postalCode,omitempty"` // in the search
	ZipCode       string `json:"zipCode,omitempty"`    // in the detail
	Prefecture    string `json:"prefecture"`
	Address1      string `json:"address1"`
	Address2      string `json:"address2"`
	Address3      string `json:"address3"`
	PhoneNo       string `json:"phoneNo"`
}

type searchShipment struct {
	ShipmentNo         int          `json:"shipmentNo"`
	AddressInfo        addressInfo  `json:"addressInfo"`
	ShippingInfo       shippingInfo `json:"shippingInfo"`
	ProductTotal       int64        `json:"productTotal"`
	TaxTotal           int64        `json:"taxTotal"`
	Postage            int64        `json:"postage"`
	CoolDeliveryCharge int64        `json:"coolDeliveryCharge"`
	GiftWrappingCharge int64        `json:"giftWrappingCharge"`
	PaymentCharge      int64        `json:"paymentCharge"`
	ProductList        []searchLine `json:"productList"`
}

type shippingInfo struct {
	DeliveryServiceName   string `json:"deliveryServiceName"`
	IsCoolDelivery        bool   `json:"isCoolDelivery"`
	InvoiceNo             string `json:"invoiceNo"`
	ExpectedArrival       string `json:"expectedArrival"`
	PreferredDeliveryDate string `json:"preferredDeliveryDate"`
	PreferredDeliveryTime string `json:"preferredDeliveryTime"`
	ShippingDate          string `json:"shippingDate"`
}

// searchLine is a product line in the search: no productNo.
type searchLine struct {
	SkuNo                   string        `json:"skuNo"`
	Name                    string        `json:"name"`
	HanpukaiName            string        `json:"hanpukaiName"`
	VerticalVariationName   string        `json:"verticalVariationName"`
	HorizontalVariationName string        `json:"horizontalVariationName"`
	JanCode                 string        `json:"janCode"`
	TaxRateCode             string        `json:"taxRateCode"`
	Price                   int64         `json:"price"`
	Count                   int64         `json:"count"`
	TaxIncluded             string        `json:"taxIncluded"`
	Tax                     int64         `json:"tax"`
	ShippingDate            string        `json:"shippingDate"`
	OptionList              []option      `json:"optionList"`
	OptionPriceList         []optionPrice `json:"optionPriceList"`
}

// The elements of optionList and optionPriceList were empty in every
// captured body: their keys are an assumption, kept in one place.
type option struct {
	Name          string `json:"name"`
	SelectionName string `json:"selectionName"`
}

type optionPrice struct {
	Name          string `json:"name"`
	SelectionName string `json:"selectionName"`
	Price         int64  `json:"price"`
}

// detailOrder is an order as GET /admin-api/v1/orders/{orderNo} returns it.
type detailOrder struct {
	OrderNo                 string           `json:"orderNo"`
	Date                    string           `json:"date"`
	GrandTotal              int64            `json:"grandTotal"`
	TotalCost               int64            `json:"totalCost"`
	ProductTotal            int64            `json:"productTotal"`
	TaxTotal                int64            `json:"taxTotal"`
	GiftWrappingChargeTotal int64            `json:"giftWrappingChargeTotal"`
	Postage                 int64            `json:"postage"`
	PaymentChargeTotal      int64            `json:"paymentChargeTotal"`
	CoolDeliveryChargeTotal int64            `json:"coolDeliveryChargeTotal"`
	PaymentType             string           `json:"paymentType"`
	DeviceType              string           `json:"deviceType"`
	ShopMemo                string           `json:"shopMemo"`
	Status                  string           `json:"status"`
	PaymentStatus           string           `json:"paymentStatus"`
	ReceiptDate             string           `json:"receiptDate"`
	MultipleShipments       bool             `json:"multipleShipments"`
	UsedPointPrice          int64            `json:"usedPointPrice"`
	DateLastUpdated         string           `json:"dateLastUpdated"`
	Type                    string           `json:"type"`
	DateProcessed           string           `json:"dateProcessed"`
	BuyerInfo               buyerInfo        `json:"buyerInfo"`
	ShipmentList            []detailShipment `json:"shipmentList"`
}

// detailShipment is a shipment in the detail: its shipping fields flat.
type detailShipment struct {
	ShipmentNo            int          `json:"shipmentNo"`
	GiftWrappingLabel     string       `json:"giftWrappingLabel"`
	ProductTotal          int64        `json:"productTotal"`
	TaxTotal              int64        `json:"taxTotal"`
	Postage               int64        `json:"postage"`
	ContactLater          bool         `json:"contactLater"`
	InvoiceNo             string       `json:"invoiceNo"`
	ExpectedArrival       string       `json:"expectedArrival"`
	PreferredDeliveryDate string       `json:"preferredDeliveryDate"`
	PreferredDeliveryTime string       `json:"preferredDeliveryTime"`
	Instructions          string       `json:"instructions"`
	Shipped               bool         `json:"shipped"`
	ShippingDate          string       `json:"shippingDate"`
	IsCoolDelivery        bool         `json:"isCoolDelivery"`
	DeliveryServiceName   string       `json:"deliveryServiceName"`
	ProductList           []detailLine `json:"productList"`
	AddressInfo           addressInfo  `json:"addressInfo"`
}

// detailLine is a product line in the detail: with productNo.
type detailLine struct {
	ProductNo               string        `json:"productNo"`
	SkuNo                   string        `json:"skuNo"`
	JanCode                 string        `json:"janCode"`
	Name                    string        `json:"name"`
	HanpukaiName            string        `json:"hanpukaiName"`
	VerticalVariationName   string        `json:"verticalVariationName"`
	HorizontalVariationName string        `json:"horizontalVariationName"`
	Price                   int64         `json:"price"`
	Count                   int64         `json:"count"`
	TaxIncluded             string        `json:"taxIncluded"`
	Tax                     int64         `json:"tax"`
	TaxRateCode             string        `json:"taxRateCode"`
	Preorder                bool          `json:"preorder"`
	NextShippingDate        string        `json:"nextShippingDate"`
	ShippingDateLabel       string        `json:"shippingDateLabel"`
	OptionPriceList         []optionPrice `json:"optionPriceList"`
	OptionList              []option      `json:"optionList"`
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(jst).Format(timeLayout)
}

func (b Buyer) info() buyerInfo {
	return buyerInfo{MemberID: "1", LastName: b.LastName, FirstName: b.FirstName, LastNameKana: b.LastNameKana,
		FirstNameKana: b.FirstNameKana, Mail: b.Email, ZipCode: b.Zip, Prefecture: b.Prefecture,
		Address1: b.Address1, Address2: b.Address2, Address3: b.Address3, TelNoMain: b.Phone}
}

func (b Buyer) address(search bool) addressInfo {
	a := addressInfo{LastName: b.LastName, FirstName: b.FirstName, LastNameKana: b.LastNameKana, FirstNameKana: b.FirstNameKana,
		Prefecture: b.Prefecture, Address1: b.Address1, Address2: b.Address2, Address3: b.Address3, PhoneNo: b.Phone}
	if search {
		a.PostalCode = b.Zip
	} else {
		a.ZipCode = b.Zip
	}
	return a
}

func options(p Product) ([]option, []optionPrice) {
	os, ps := []option{}, []optionPrice{}
	for _, op := range p.Options {
		os = append(os, option{op.Name, op.Selection})
		ps = append(ps, optionPrice{op.Name, op.Selection, op.Price})
	}
	return os, ps
}

func searchJSON(o *Order) searchOrder {
	j := searchOrder{
		OrderNo: o.OrderNo, Type: "REGULAR", Date: fmtTime(o.OrderedAt), Status: o.Status,
		GrandTotal: o.GrandTotal, TotalCost: o.GrandTotal, ProductTotal: o.GrandTotal, TaxConfigEnabled: true,
		TaxRate: 10, TaxRoundingType: "ROUND_DOWN", StandardTax: 10, ReducedTax: 8, PaymentType: "COD",
		IsMember: true, BuyerInfo: o.Buyer.info(), ShipmentList: []searchShipment{},
	}
	for _, sh := range o.Shipments {
		sj := searchShipment{
			ShipmentNo: sh.ShipmentNo, AddressInfo: o.Buyer.address(true),
			ShippingInfo: shippingInfo{DeliveryServiceName: sh.DeliveryServiceName, InvoiceNo: sh.InvoiceNo,
				ExpectedArrival: sh.ExpectedArrival, PreferredDeliveryDate: sh.PreferredDeliveryDate,
				PreferredDeliveryTime: sh.PreferredDeliveryTime, ShippingDate: sh.ShippingDate},
			ProductList: []searchLine{},
		}
		for _, p := range sh.Products {
			ol, opl := options(p)
			sj.ProductList = append(sj.ProductList, searchLine{SkuNo: p.SkuNo, Name: p.Name, TaxRateCode: "STANDARD",
				Price: p.Price, Count: p.Count, TaxIncluded: "TAX_EXCLUDED", OptionList: ol, OptionPriceList: opl})
		}
		j.ShipmentList = append(j.ShipmentList, sj)
	}
	return j
}

func detailJSON(o *Order) detailOrder {
	j := detailOrder{
		OrderNo: o.OrderNo, Date: fmtTime(o.OrderedAt), GrandTotal: o.GrandTotal, TotalCost: o.GrandTotal,
		ProductTotal: o.GrandTotal, PaymentType: "COD", DeviceType: "PC", Status: o.Status,
		PaymentStatus:     map[string]string{PaymentReceived: "RECEIVED", PaymentNotReceived: "NOTRECEIVED"}[o.PaymentStatus],
		MultipleShipments: len(o.Shipments) > 1, DateLastUpdated: fmtTime(o.UpdatedAt), Type: "REGULAR",
		BuyerInfo: o.Buyer.info(), ShipmentList: []detailShipment{},
	}
	for _, sh := range o.Shipments {
		sj := detailShipment{
			ShipmentNo: sh.ShipmentNo, InvoiceNo: sh.InvoiceNo, ExpectedArrival: sh.ExpectedArrival,
			PreferredDeliveryDate: sh.PreferredDeliveryDate, PreferredDeliveryTime: sh.PreferredDeliveryTime,
			Shipped: sh.Status == ShipmentShipped, ShippingDate: sh.ShippingDate, DeliveryServiceName: sh.DeliveryServiceName,
			ProductList: []detailLine{}, AddressInfo: o.Buyer.address(false),
		}
		for _, p := range sh.Products {
			ol, opl := options(p)
			sj.ProductList = append(sj.ProductList, detailLine{ProductNo: p.ProductNo, SkuNo: p.SkuNo, Name: p.Name,
				Price: p.Price, Count: p.Count, TaxIncluded: "TAX_EXCLUDED", TaxRateCode: "STANDARD",
				OptionPriceList: opl, OptionList: ol})
		}
		j.ShipmentList = append(j.ShipmentList, sj)
	}
	return j
}
