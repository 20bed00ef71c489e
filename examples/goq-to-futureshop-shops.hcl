# 発送情報の更新 for many futureshop shops from one GoQ export: the rules of
# goq-to-futureshop.hcl, one job instance per shop (shipping["a"], …). One
# GoQ account exports every store's orders; 販売店舗 tells them apart. Each
# shop's credentials come from its own environment variables:
# <env_prefix>_API_DOMAIN, _SHOP_KEY, _CLIENT_ID and _CLIENT_SECRET.
#
#   runner plan -var-file shops.vars.hcl -var goq_export_all=orders.csv examples/goq-to-futureshop-shops.hcl
#   runner run  -var-file shops.vars.hcl -var goq_export_all=orders.csv examples/goq-to-futureshop-shops.hcl
#
# with shops.vars.hcl such as
#
#   shops = {
#     a = { store = "FutureShop 1号店", env_prefix = "SHOP_A" }
#     b = { store = "FutureShop 2号店", env_prefix = "SHOP_B" }
#   }

variable "goq_export_all" {
  type        = string
  description = "GoQ カスタムCSV export holding every shop's orders (CP932 or UTF-8)"
}

variable "shops" {
  type        = map(object({ store = string, env_prefix = string }))
  description = "the shops by key: store is the GoQ store name (販売店舗), env_prefix starts its credentials' variables"
}

job "shipping" {
  for_each    = var.shops
  description = "発送情報の更新 (GoQ → futureshop ${each.key})"
  schedule    = "every 10m"
  time_zone   = "Asia/Tokyo"

  source "goq_csv" {
    path = var.goq_export_all
  }

  destination "futureshop" {
    api_domain    = env("${each.value.env_prefix}_API_DOMAIN")
    shop_key      = env("${each.value.env_prefix}_SHOP_KEY")
    client_id     = env("${each.value.env_prefix}_CLIENT_ID")
    client_secret = env("${each.value.env_prefix}_CLIENT_SECRET")

    # ポイント有効処理設定 of the shops. With 処理済み時に有効 or 発送済み時に有効,
    # status changes made through the API do not activate the buyer's points.
    points_activation = "注文完了時に有効"
  }

  filter "store" {
    description = "orders of this shop's store only"
    when        = "store == each.value.store"
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
