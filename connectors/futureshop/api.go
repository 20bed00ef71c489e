package futureshop

// This file holds everything the connector assumes about futureshop's API:
// paths, parameter names, enums and wire shapes. Names that the public
// material did not settle are marked "unconfirmed"; when futureshop confirms
// one, the change is a line here.

const (
	tokenPath          = "/oauth/token"
	searchPath         = "/admin-api/v1/shipping"        // 受注検索API
	shippingStatusPath = "/admin-api/v1/shipping/status" // 発送API
	completePath       = "/admin-api/v1/order/complete"  // 受注ステータス変更(処理済)API

	// pointStatusPath is the API that activates a buyer's points. Unconfirmed,
	// so the connector never calls it and reports the points caveat instead.
	pointStatusPath = ""

	headerShopKey = "X-SHOP-KEY"

	// maxOrdersPerUpdate is the most orders one shipping or complete call takes.
	maxOrdersPerUpdate = 100

	// Byte limits of the shipping update.
	maxOrderNoBytes   = 12
	maxInvoiceNoBytes = 100

	// timeLayout is how futureshop writes instants: no zone, JST.
	timeLayout = "2006-01-02T15:04:05"
	dateLayout = "2006-01-02"
)

// carrierKey is the shippingInfo key for the carrier (配送会社). Unconfirmed:
// GoQ says it writes the carrier, but the published 発送API body has no such
// key. While it is empty the carrier field is accepted and not sent.
const carrierKey = ""

// Order search parameters.
const (
	paramOrderDateStart = "orderDateStart"
	paramOrderDateEnd   = "orderDateEnd"
	paramShippingStatus = "shippingStatus"
	paramPaymentStatus  = "paymentStatus"

	// paramPageSize names the page size parameter of the search. Unconfirmed,
	// so it is empty and not sent; the service's default page size applies.
	paramPageSize  = ""
	searchPageSize = 100
)

// Search filter values.
var (
	shippingStatuses = []string{"notShipped", "shipped"}
	paymentStatuses  = []string{"notReceived", "received"}
)

// Order status names as the search returns them. Unconfirmed enum: the
// connector passes status through as text and only documents these.
const (
	orderStatusCompleted = "処理済み"
)

// Result codes.
const (
	codeStorePickup = "CannotUpdateStorePickup"
	codeTooMany     = "TooMany"
)

// permanentCodes are per-order codes that retrying will not fix. Beyond
// CannotUpdateStorePickup the validation codes are unconfirmed; a code not
// listed here is treated as possibly transient.
var permanentCodes = map[string]bool{
	codeStorePickup:   true,
	"InvalidValue":    true,
	"InvalidFormat":   true,
	"TooLong":         true,
	"ValidationError": true,
}

// Points activation settings (ポイント有効処理設定), with ASCII aliases.
const (
	pointsOnOrder    = "注文完了時に有効"
	pointsOnComplete = "処理済み時に有効"
	pointsOnShip     = "発送済み時に有効"
)

var pointsAliases = map[string]string{
	pointsOnOrder:    pointsOnOrder,
	pointsOnComplete: pointsOnComplete,
	pointsOnShip:     pointsOnShip,
	"on_order":       pointsOnOrder,
	"on_complete":    pointsOnComplete,
	"on_ship":        pointsOnShip,
}

// Wire shapes.

type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
}

type shippingRequest struct {
	OrderList []shippingOrder `json:"orderList"`
}

type shippingOrder struct {
	OrderNo      string             `json:"orderNo"`
	ShipmentList []shippingShipment `json:"shipmentList"`
}

type shippingShipment struct {
	ShipmentNo int64 `json:"shipmentNo"`
	// ShippingInfo holds only the keys the job mapped: a key sent as ""
	// blanks the value at futureshop.
	ShippingInfo map[string]string `json:"shippingInfo"`
}

// shippingInfo keys of the 発送API.
const (
	keyShippingDate    = "shippingDate"
	keyInvoiceNo       = "invoiceNo"
	keyExpectedArrival = "expectedArrival"
)

type completeRequest struct {
	OrderList []completeOrder `json:"orderList"`
}

type completeOrder struct {
	OrderNo string `json:"orderNo"`
}

type updateResponse struct {
	Status  string        `json:"status"` // "success" or "failed"
	Errors  []apiError    `json:"errors"`
	Results []orderResult `json:"results"`
}

type apiError struct {
	Code    string `json:"code"`
	Path    string `json:"path"`
	Message string `json:"message"`
}

type orderResult struct {
	Status  string `json:"status"`
	OrderNo string `json:"orderNo"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

const statusSuccess = "success"

type searchResponse struct {
	OrderList []searchOrder `json:"orderList"`
	NextURL   string        `json:"nextUrl"`
}

type searchOrder struct {
	OrderNo         string           `json:"orderNo"`
	Date            string           `json:"date"`
	Status          string           `json:"status"`
	DateLastUpdated string           `json:"dateLastUpdated"`
	GrandTotal      int64            `json:"grandTotal"`
	BuyerInfo       buyerInfo        `json:"buyerInfo"`
	ShipmentList    []searchShipment `json:"shipmentList"`
}

// buyerInfo keys are unconfirmed beyond the object's existence.
type buyerInfo struct {
	LastName    string `json:"lastName"`
	FirstName   string `json:"firstName"`
	MailAddress string `json:"mailAddress"`
	PhoneNumber string `json:"phoneNumber"`
	ZipCode     string `json:"zipCode"`
	Prefecture  string `json:"prefecture"`
	Address     string `json:"address"`
}

type searchShipment struct {
	ShipmentNo   int64          `json:"shipmentNo"`
	ShippingInfo searchShipInfo `json:"shippingInfo"`
	ProductList  []product      `json:"productList"`
}

type searchShipInfo struct {
	DeliveryServiceName   string `json:"deliveryServiceName"`
	InvoiceNo             string `json:"invoiceNo"`
	ExpectedArrival       string `json:"expectedArrival"`
	PreferredDeliveryDate string `json:"preferredDeliveryDate"`
	PreferredDeliveryTime string `json:"preferredDeliveryTime"`
	ShippingDate          string `json:"shippingDate"`
}

type product struct {
	ProductNo       string        `json:"productNo"`
	SkuNo           string        `json:"skuNo"`
	Name            string        `json:"name"`
	Price           int64         `json:"price"`
	Count           int64         `json:"count"`
	OptionPriceList []optionPrice `json:"optionPriceList"`
}

type optionPrice struct {
	Name          string `json:"name"`
	SelectionName string `json:"selectionName"`
	Price         int64  `json:"price"`
}
