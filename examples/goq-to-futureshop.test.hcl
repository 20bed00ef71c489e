# Tests of goq-to-futureshop.hcl: runner test examples/
#
# Every filter's calendar edges at 2026-11-28 10:00 JST (design §1): the
# last moment in and the first moment out of each window; the forms a
# tracking number takes in GoQ; an order without a delivery date.

run "store-and-status" {
  job = "shipping-to-futureshop"
  now = "2026-11-28T10:00:00+09:00"

  input {
    csv = <<-CSV
      受注番号,販売店舗,注文日,受注ステータス,最終更新日時,出荷日,お荷物伝票番号,お届け指定日
      100000001201,FutureShop 1号店,2026-11-20 14:03:11,出荷済み,2026-11-26 09:12:40,2026-11-26,123456789012,2026-11-28
      100000001202,楽天市場店,2026-11-20 14:03:11,出荷済み,2026-11-26 09:12:40,2026-11-26,123456789012,
      100000001203,FutureShop 1号店,2026-11-27 22:10:05,新規受付,2026-11-27 22:10:05,,,
      100000001204,FutureShop 1号店,2026-11-22 10:00:00,キャンセル,2026-11-26 11:00:00,,,
      100000001205,FutureShop 1号店,2026-11-22 10:00:00,★発送済み,2026-11-26 11:00:00,2026-11-26,987654321098,
    CSV
  }

  expect "100000001201" {
    send = {
      order_no         = "100000001201"
      shipping_date    = "2026-11-26"
      invoice_no       = "123456789012"
      expected_arrival = "2026-11-28"
    }
    exact = true
  }
  expect "100000001202" { excluded = "store" }
  expect "100000001203" { excluded = "status" }
  expect "100000001204" { excluded = "status" }
  expect "100000001205" { send = { invoice_no = "987654321098" } }
}

run "updated-within-4-days" {
  job = "shipping-to-futureshop"
  now = "2026-11-28T10:00:00+09:00"

  # 最終更新日 on or after 2026-11-24 (today − 4) in Asia/Tokyo.
  input {
    rows = [
      { 受注番号 = "100000001210", 販売店舗 = "FutureShop 1号店", 注文日 = "2026-11-20 10:00:00", 受注ステータス = "出荷済み", 最終更新日時 = "2026-11-24 00:00:00", 出荷日 = "2026-11-24", お荷物伝票番号 = "111111111111", お届け指定日 = "" },
      { 受注番号 = "100000001211", 販売店舗 = "FutureShop 1号店", 注文日 = "2026-11-20 10:00:00", 受注ステータス = "出荷済み", 最終更新日時 = "2026-11-23 23:59:59", 出荷日 = "2026-11-23", お荷物伝票番号 = "222222222222" },
      { 受注番号 = "100000001212", 販売店舗 = "FutureShop 1号店", 注文日 = "2026-11-20 10:00:00", 受注ステータス = "出荷済み", 最終更新日時 = "2026-11-24 00:00", 出荷日 = "2026-11-24", お荷物伝票番号 = "333333333333" },
      { 受注番号 = "100000001213", 販売店舗 = "FutureShop 1号店", 注文日 = "2026-11-20 10:00:00", 受注ステータス = "出荷済み", 最終更新日時 = "2026-11-23 23:59", 出荷日 = "2026-11-23", お荷物伝票番号 = "444444444444" },
    ]
  }

  expect "100000001210" { send = { shipping_date = "2026-11-24" } } # the last day in
  expect "100000001211" { excluded = "updated-4d" }                 # the first moment out
  expect "100000001212" { send = {} }                               # a timestamp without seconds
  expect "100000001213" { excluded = "updated-4d" }
}

run "ordered-within-170-days" {
  job = "shipping-to-futureshop"
  now = "2026-11-28T10:00:00+09:00"

  # 注文日 on or after 2026-06-11 (today − 170); GoQ's slashed dates too.
  input {
    csv = <<-CSV
      受注番号,販売店舗,注文日,受注ステータス,最終更新日時,出荷日,お荷物伝票番号,お届け指定日
      100000001208,FutureShop 1号店,2026-06-11 00:00:00,出荷済み,2026-11-27 09:00:00,2026-11-27,555555555555,
      100000001207,FutureShop 1号店,2026-06-10 23:59:59,出荷済み,2026-11-27 09:00:00,2026-11-27,666666666666,
      100000001206,FutureShop 1号店,2026/06/11,出荷済み,2026/11/27 09:00,2026/11/27,777777777777,
      100000001209,FutureShop 1号店,2026/06/10,出荷済み,2026/11/27 09:00,2026/11/27,888888888888,
    CSV
  }

  expect "100000001208" { send = { shipping_date = "2026-11-27" } }
  expect "100000001207" { excluded = "ordered-170d" }
  expect "100000001206" { send = { shipping_date = "2026-11-27" } }
  expect "100000001209" { excluded = "ordered-170d" }
}

run "tracking-numbers-and-arrival" {
  job = "shipping-to-futureshop"
  now = "2026-11-28T10:00:00+09:00"

  # Full-width digits become half-width; of several numbers in a cell the
  # first is sent; no お届け指定日 sends "" (clears 到着予定日); no
  # tracking number sends none, so the shop's is kept.
  input {
    csv = <<-CSV
      受注番号,販売店舗,注文日,受注ステータス,最終更新日時,出荷日,お荷物伝票番号,お届け指定日
      100000001221,FutureShop 1号店,2026-11-20 10:00:00,出荷済み,2026-11-27 09:00:00,2026-11-27,１２３４－５６７８－９０１２,2026-11-29
      100000001222,FutureShop 1号店,2026-11-20 10:00:00,出荷済み,2026-11-27 09:00:00,2026-11-27,"111122223333, 444455556666",
      100000001223,FutureShop 1号店,2026-11-20 10:00:00,出荷済み,2026-11-27 09:00:00,2026-11-27,3456-7890-1234,
      100000001224,FutureShop 1号店,2026-11-20 10:00:00,出荷済み,2026-11-27 09:00:00,2026-11-27,,
    CSV
  }

  expect "100000001221" { send = { invoice_no = "1234-5678-9012", expected_arrival = "2026-11-29" } }
  expect "100000001222" { send = { invoice_no = "111122223333", expected_arrival = "" } }
  expect "100000001223" { send = { invoice_no = "3456-7890-1234", expected_arrival = "" } }
  expect "100000001224" {
    send  = { order_no = "100000001224", shipping_date = "2026-11-27", expected_arrival = "" }
    exact = true
  }
}

run "sample-export" {
  job = "shipping-to-futureshop"
  now = "2026-11-28T10:00:00+09:00"

  # The sample export as GoQ writes it: CP932, CRLF.
  input {
    file = "../testdata/orders-sample.csv"
  }

  expect "100000001201" { send = { invoice_no = "123456789012", expected_arrival = "2026-11-28" } }
  expect "100000001203" { excluded = "status" }
  expect "100000001204" { excluded = "status" }
}

run "against-the-test-shop" {
  job     = "shipping-to-futureshop"
  now     = "2026-11-28T10:00:00+09:00"
  command = "run"

  input {
    csv = <<-CSV
      受注番号,販売店舗,注文日,受注ステータス,最終更新日時,出荷日,お荷物伝票番号,お届け指定日
      100000001201,FutureShop 1号店,2026-11-20 14:03:11,出荷済み,2026-11-26 09:12:40,2026-11-26,123456789012,2026-11-28
      100000001202,FutureShop 1号店,2026-11-21 08:00:00,出荷済み,2026-11-27 17:45:00,2026-11-27,3456-7890-1234,
      100000001205,FutureShop 1号店,2026-11-22 10:00:00,出荷済み,2026-11-27 11:00:00,2026-11-27,987654321098,
    CSV
  }

  shop {
    order "100000001201" { ordered_at = "2026-11-20 14:03:11" }
    order "100000001202" { ordered_at = "2026-11-21 08:00:00" }
    order "100000001205" {
      ordered_at   = "2026-11-22 10:00:00"
      store_pickup = true
    }
  }

  expect "100000001201" { send = { invoice_no = "123456789012" } }
  expect "100000001202" { send = { invoice_no = "3456-7890-1234" } }
  expect "100000001205" { failure = "CannotUpdateStorePickup" }

  calls = {
    "POST /admin-api/v1/shipping/status" = 1
    "POST /admin-api/v1/order/complete"  = 1
  }

  shop_after "100000001201" {
    status           = "COMPLETED"
    shipment_status  = "発送済み"
    shipping_date    = "2026-11-26"
    invoice_no       = "123456789012"
    expected_arrival = "2026-11-28"
  }
  shop_after "100000001205" {
    status          = "AWAITING_SHIPMENT"
    shipment_status = "未発送"
  }
}
