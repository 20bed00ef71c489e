job "unknown" {
  source "goq_cvs" {
    path = "orders.csv"
  }
  destination "futureshopp" {
  }
  map {
    order_no = "order_no"
  }
}
