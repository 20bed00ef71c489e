variable "goq_export" {
  type    = string
  default = "../../../../testdata/orders-sample.csv"
}

job "typo" {
  source "goq_csv" {
    path = var.goq_export
  }
  destination "futureshop" {
    api_domain    = env("FUTURESHOP_API_DOMAIN")
    shop_key      = env("FUTURESHOP_SHOP_KEY")
    client_id     = env("FUTURESHOP_CLIENT_ID")
    client_secret = env("FUTURESHOP_CLIENT_SECRET")
  }
  filter "status" {
    when = "staus not in ['新規受付', 'キャンセル']"
  }
  map {
    order_no   = "order_no"
    invoice_no = "trackin_no"
  }
}
