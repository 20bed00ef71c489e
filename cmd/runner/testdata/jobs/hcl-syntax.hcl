job "broken" {
  source "goq_csv" {
    path = "orders.csv"
  
  map {
    order_no = "order_no"
  }
}
