# 受注取得: bring futureshop orders of the last 10 days into GoQ, every 10
# minutes, as a CP932 CSV for GoQ's order import: one row per product line.
#
#   runner plan examples/futureshop-to-goq.hcl
#   runner run  -var goq_import_dir=/srv/goq/import examples/futureshop-to-goq.hcl

variable "goq_import_dir" {
  type        = string
  default     = "goq-import"
  description = "directory GoQ imports from; it must exist"
}

variable "add_option_prices" {
  type        = bool
  default     = true
  description = "オプション価格「商品単価に加算する」: add option prices to the unit price"
}

job "orders-to-goq" {
  description = "受注取得 (futureshop → GoQ)"
  schedule    = "every 10m" # 自動取得
  time_zone   = "Asia/Tokyo"

  source "futureshop" {
    api_domain    = env("FUTURESHOP_API_DOMAIN")
    shop_key      = env("FUTURESHOP_SHOP_KEY")
    client_id     = env("FUTURESHOP_CLIENT_ID")
    client_secret = env("FUTURESHOP_CLIENT_SECRET")
    days          = 10 # 受注を取得する日数
  }

  destination "goq_csv" {
    dir      = var.goq_import_dir
    prefix   = "futureshop-orders-"
    encoding = "cp932"
    # product_no (商品番号) is in futureshop's order detail only: mapping it
    # costs one more request per order. The search's sku_no costs nothing.
    columns = ["order_no", "line_no", "ordered_at", "buyer_name", "buyer_email", "buyer_phone",
      "buyer_zip", "buyer_address", "sku_no", "product_name", "options",
    "unit_price", "count", "preferred_delivery_date", "preferred_delivery_time", "grand_total"]
    headers = {
      order_no                = "受注番号"
      line_no                 = "明細番号"
      ordered_at              = "注文日時"
      buyer_name              = "購入者名"
      buyer_email             = "購入者メールアドレス"
      buyer_phone             = "購入者電話番号"
      buyer_zip               = "購入者郵便番号"
      buyer_address           = "購入者住所"
      sku_no                  = "SKU番号"
      product_name            = "商品名"
      options                 = "項目選択肢"
      unit_price              = "単価"
      count                   = "個数"
      preferred_delivery_date = "お届け指定日"
      preferred_delivery_time = "お届け時間帯"
      grand_total             = "合計金額"
    }
    types = { line_no = "int", unit_price = "int", count = "int", grand_total = "int", preferred_delivery_date = "date" }
    key   = ["order_no", "line_no"]
  }

  filter "has-products" {
    description = "an order line with a product"
    when        = "sku_no != nil && count > 0"
  }

  map {
    order_no                = "order_no"
    line_no                 = "line_no"
    ordered_at              = "ymdhms(ordered_at)"
    buyer_name              = "buyer_name"
    buyer_email             = "buyer_email"
    buyer_phone             = "buyer_phone"
    buyer_zip               = "buyer_zip"
    buyer_address           = "buyer_address"
    sku_no                  = "sku_no"
    product_name            = "product_name"
    options                 = "option_text"
    unit_price              = "vars.add_option_prices ? price + option_price : price"
    count                   = "count"
    preferred_delivery_date = "preferred_delivery_date"
    preferred_delivery_time = "preferred_delivery_time"
    grand_total             = "grand_total"
  }
}
