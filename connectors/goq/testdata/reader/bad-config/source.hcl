path  = "x.csv"
inbox = "in"
encoding = "latin1"
optional = ["notes", "order_no"]
columns {
  trackin_no = "伝票番号"
  note = ""
}
