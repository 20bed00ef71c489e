variable "store" {
  type    = string
  default = "FutureShop 1号店"
}

job "vars" {
  schedule = "*/10 * * *"
  source "goq_csv" {
    path = "orders.csv"
  }
  destination "futureshop" {
    api_domain    = env("FUTURESHOP_API_DOMAIN")
    shop_key      = env("FUTURESHOP_SHOP_KEY")
    client_id     = env("FUTURESHOP_CLIENT_ID")
    client_secret = env("FUTURESHOP_CLIENT_SECRET")
    points_activation = "処理済み時に有効"
  }
  filter "store" {
    when = "store == vars.stor"
  }
  map {
    order_no = "order_no"
  }
  after_export {
    complete_order = true
  }
}
