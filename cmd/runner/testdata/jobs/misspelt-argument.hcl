job "misspelt" {
  source "goq_csv" {
    path = "orders.csv"
  }
  destination "futureshop" {
    api_domian    = env("FUTURESHOP_API_DOMAIN")
    shop_key      = env("FUTURESHOP_SHOP_KEY")
    client_id     = env("FUTURESHOP_CLIENT_ID")
    client_secret = env("FUTURESHOP_CLIENT_SECRET")
  }
  map {
    order_no = "order_no"
  }
}
