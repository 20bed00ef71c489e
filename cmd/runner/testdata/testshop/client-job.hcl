# A client's own 発送情報の更新 job: the shipping example over a GoQ
# template whose columns are renamed, exported as UTF-8 with a BOM
# (client-export.csv beside it). runner testshop -seed-from rehearses it.

variable "goq_export" {
  type        = string
  description = "GoQ カスタムCSV export"
}

variable "store" {
  type    = string
  default = "フューチャーショップ本店"
}

job "client-shipping" {
  description = "発送情報の更新 (GoQ → futureshop), the client's template"
  time_zone   = "Asia/Tokyo"

  source "goq_csv" {
    path = var.goq_export
    columns {
      order_no      = "受注コード"
      store         = "店舗"
      ordered_at    = "受注日時"
      status        = "対応状況"
      updated_at    = "更新日"
      shipped_on    = "発送日"
      tracking_no   = "送り状番号"
      delivery_date = "配達指定日"
    }
  }

  destination "futureshop" {
    api_domain        = env("FUTURESHOP_API_DOMAIN")
    shop_key          = env("FUTURESHOP_SHOP_KEY")
    client_id         = env("FUTURESHOP_CLIENT_ID")
    client_secret     = env("FUTURESHOP_CLIENT_SECRET")
    rate_limit        = 50
    points_activation = "注文完了時に有効"
  }

  filter "store" {
    when = "store == vars.store"
  }

  filter "status" {
    when = "status not in ['新規受付', 'キャンセル']"
  }

  filter "updated-4d" {
    when = "within_days(updated_at, 4)"
  }

  filter "ordered-170d" {
    when = "within_days(ordered_at, 170)"
  }

  map {
    order_no         = "order_no"
    shipping_date    = "shipped_on"
    invoice_no       = "hankaku(first(tracking_no))"
    expected_arrival = "coalesce(delivery_date, '')"
  }

  after_export {
    complete_order = true
  }
}
