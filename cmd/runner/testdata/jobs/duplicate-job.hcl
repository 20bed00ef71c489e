job "same" {
  source "goq_csv" {
    path = "a.csv"
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

job "same" {
  schedule = "every ten minutes"
  time_zone = "Asia/Tokio"
  source "goq_csv" {
    path = "b.csv"
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
