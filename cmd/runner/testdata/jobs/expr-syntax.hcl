job "syntax" {
  source "goq_csv" {
    path = "orders.csv"
  }
  destination "futureshop" {
    api_domain    = "shop.example.jp"
    shop_key      = "k"
    client_id     = "c"
    client_secret = env("FUTURESHOP_CLIENT_SECRET")
  }
  filter "updated" {
    when = "within_days(updated_at, 4) &&"
  }
  filter "wrong-type" {
    when = "ymd(shipped_on)"
  }
  map {
    order_no      = "order_no"
    shipping_date = "ymd(tracking_no)"
  }
}
