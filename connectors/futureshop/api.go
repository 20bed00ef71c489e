package futureshop

// This file holds everything the connector assumes about futureshop's API:
// paths, parameter names, enums and wire shapes. Names that the public
// material did not settle are marked "unconfirmed"; when futureshop confirms
// one, the change is a line here.

const (
	tokenPath          = "/oauth/token"
	searchPath         = "/admin-api/v1/shipping"        // 受注検索API
	detailPath         = "/admin-api/v1/orders/"         // 受注詳細API: + orderNo
	shippingStatusPath = "/admin-api/v1/shipping/status" // 発送API
	completePath       = "/admin-api/v1/order/complete"  // 受注ステータス変更(処理済)API

	// The API that activates a buyer's points is unconfirmed, so the
	// connector never calls one and reports the points caveat instead.

	headerShopKey = "X-SHOP-KEY"

	// maxOrdersPerUpdate is the most orders one shipping or complete call takes.
	maxOrdersPerUpdate = 100
	// maxOrdersPerSearch is the most order numbers one search's orderNo
	// list holds. Unconfirmed: the update calls' limit, which is also the
	// page size, so a search by number fits one page.
	maxOrdersPerSearch = 100

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

// Order statuses as the API writes them: COMPLETED (処理済み) is seen in
// bodies captured from the real API; the connector passes status through as
// text and reads back 処理済み by this one.
const (
	orderStatusCompleted = "COMPLETED"
)

// Result codes.
const (
	codeStorePickup = "CannotUpdateStorePickup"
	codeNotFound    = "NotFound"
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

// searchOrder is an order as the search lists it. It has no
// dateLastUpdated and no paymentStatus: those are in the detail.
type searchOrder struct {
	OrderNo      string           `json:"orderNo"`
	Date         string           `json:"date"`
	Status       string           `json:"status"`
	GrandTotal   int64            `json:"grandTotal"`
	BuyerInfo    buyerInfo        `json:"buyerInfo"`
	ShipmentList []searchShipment `json:"shipmentList"`
}

type buyerInfo struct {
	LastName   string `json:"lastName"`
	FirstName  string `json:"firstName"`
	Mail       string `json:"mail"`
	TelNoMain  string `json:"telNoMain"`
	ZipCode    string `json:"zipCode"`
	Prefecture string `json:"prefecture"` // a code: TOKYO
	Address1   string `json:"address1"`
	Address2   string `json:"address2"`
	Address3   string `json:"address3"`
}

// searchShipment nests its shipping fields in shippingInfo.
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

// product is a product line of the search: skuNo, but no productNo.
type product struct {
	SkuNo           string        `json:"skuNo"`
	Name            string        `json:"name"`
	Price           int64         `json:"price"`
	Count           int64         `json:"count"`
	OptionPriceList []optionPrice `json:"optionPriceList"`
}

// optionPrice's keys are assumed: every captured body had the list empty.
type optionPrice struct {
	Name          string `json:"name"`
	SelectionName string `json:"selectionName"`
	Price         int64  `json:"price"`
}

// detailOrder is an order as the detail returns it: shipments flat, lines
// with productNo, and dateLastUpdated.
type detailOrder struct {
	OrderNo         string           `json:"orderNo"`
	DateLastUpdated string           `json:"dateLastUpdated"`
	ShipmentList    []detailShipment `json:"shipmentList"`
}

type detailShipment struct {
	ShipmentNo  int64        `json:"shipmentNo"`
	ProductList []detailLine `json:"productList"`
}

type detailLine struct {
	ProductNo string `json:"productNo"`
	SkuNo     string `json:"skuNo"`
}

// prefectures names the API's prefecture codes. TOKYO, SAITAMA and AOMORI
// are seen in captured bodies; the others follow their pattern (assumed).
// A code not here is kept as it is.
var prefectures = map[string]string{
	"HOKKAIDO": "北海道", "AOMORI": "青森県", "IWATE": "岩手県", "MIYAGI": "宮城県", "AKITA": "秋田県",
	"YAMAGATA": "山形県", "FUKUSHIMA": "福島県", "IBARAKI": "茨城県", "TOCHIGI": "栃木県", "GUNMA": "群馬県",
	"SAITAMA": "埼玉県", "CHIBA": "千葉県", "TOKYO": "東京都", "KANAGAWA": "神奈川県", "NIIGATA": "新潟県",
	"TOYAMA": "富山県", "ISHIKAWA": "石川県", "FUKUI": "福井県", "YAMANASHI": "山梨県", "NAGANO": "長野県",
	"GIFU": "岐阜県", "SHIZUOKA": "静岡県", "AICHI": "愛知県", "MIE": "三重県", "SHIGA": "滋賀県",
	"KYOTO": "京都府", "OSAKA": "大阪府", "HYOGO": "兵庫県", "NARA": "奈良県", "WAKAYAMA": "和歌山県",
	"TOTTORI": "鳥取県", "SHIMANE": "島根県", "OKAYAMA": "岡山県", "HIROSHIMA": "広島県", "YAMAGUCHI": "山口県",
	"TOKUSHIMA": "徳島県", "KAGAWA": "香川県", "EHIME": "愛媛県", "KOCHI": "高知県", "FUKUOKA": "福岡県",
	"SAGA": "佐賀県", "NAGASAKI": "長崎県", "KUMAMOTO": "熊本県", "OITA": "大分県", "MIYAZAKI": "宮崎県",
	"KAGOSHIMA": "鹿児島県", "OKINAWA": "沖縄県",
}

// prefecture names a prefecture code.
func prefecture(code string) string {
	if name, ok := prefectures[code]; ok {
		return name
	}
	return code
}
