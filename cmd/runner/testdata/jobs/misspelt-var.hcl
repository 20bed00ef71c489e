variable "goq_export" {
  type = string
}

job "misspelt" {
  source "goq_csv" {
    path = var.goq_exprt
  }
  destination "futureshop" {
    api_domain    = env("FUTURESHOP_API_DOMAIN")
    shop_key      = env("FUTURESHOP_SHOP_KEY")
    client_id     = env("FUTURESHOP_CLIENT_ID")
    client_secret = env("FUTURESHOP_CLIENT_SECRET")
  }
  map {
    order_no = "order_no"
  }
}
