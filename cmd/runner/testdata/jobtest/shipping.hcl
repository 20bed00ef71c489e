# 発送情報の更新: push ship date, tracking number and arrival date from a GoQ
# export to futureshop, then mark each order 処理済み. The filters are GoQ's
# documented 書出し対象 rules; the map is its 更新される項目.
#
#   runner plan -var goq_export=orders.csv examples/goq-to-futureshop.hcl
#   runner run  -var goq_export=orders.csv examples/goq-to-futureshop.hcl

variable "goq_export" {
  type        = string
  description = "GoQ カスタムCSV export (CP932 or UTF-8)"
}

variable "store" {
  type        = string
  default     = "FutureShop 1号店"
  description = "販売店舗: the GoQ store name of this futureshop shop"
}

job "shipping-to-futureshop" {
  description = "発送情報の更新 (GoQ → futureshop)"
  schedule    = "every 10m"
  time_zone   = "Asia/Tokyo"

  source "goq_csv" {
    path = var.goq_export
  }

  destination "futureshop" {
    api_domain    = env("FUTURESHOP_API_DOMAIN")
    shop_key      = env("FUTURESHOP_SHOP_KEY")
    client_id     = env("FUTURESHOP_CLIENT_ID")
    client_secret = env("FUTURESHOP_CLIENT_SECRET")

    # ポイント有効処理設定 of the shop. With 処理済み時に有効 or 発送済み時に有効,
    # status changes made through the API do not activate the buyer's points.
    points_activation = "注文完了時に有効"
  }

  filter "store" {
    description = "orders of this futureshop store only"
    when        = "store == vars.store"
  }

  filter "status" {
    description = "not 新規 (新規受付) and not キャンセル"
    when        = "status not in ['新規受付', 'キャンセル']"
  }

  filter "updated-4d" {
    description = "GoQ 最終更新日 within 4 days"
    when        = "within_days(updated_at, 4)"
  }

  filter "ordered-170d" {
    description = "注文日 within 170 days"
    when        = "within_days(ordered_at, 170)"
  }

  map {
    order_no      = "order_no"
    shipping_date = "shipped_on"
    # Full-width digits become half-width; of several numbers in one cell,
    # the first goes to the shipment.
    invoice_no = "hankaku(first(tracking_no))"
    # お届け指定日 when the order has one, otherwise blank.
    expected_arrival = "coalesce(delivery_date, '')"
  }

  after_export {
    complete_order = true # 注文ステータスを処理済みに更新する
  }
}
