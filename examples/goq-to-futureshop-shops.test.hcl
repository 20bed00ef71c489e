# Tests of goq-to-futureshop-shops.hcl: runner test examples/
#
# One export holds every store's orders; each shop's instance takes its
# own store's and no other's.

run "shop-a-takes-its-store-only" {
  job = "shipping[\"a\"]"
  now = "2026-11-28T10:00:00+09:00"

  variables {
    shops = {
      a = { store = "FutureShop 1号店", env_prefix = "SHOP_A" }
      b = { store = "FutureShop 2号店", env_prefix = "SHOP_B" }
    }
  }

  input {
    csv = <<-CSV
      受注番号,販売店舗,注文日,受注ステータス,最終更新日時,出荷日,お荷物伝票番号,お届け指定日
      100000001201,FutureShop 1号店,2026-11-20 14:03:11,出荷済み,2026-11-26 09:12:40,2026-11-26,123456789012,2026-11-28
      100000002201,FutureShop 2号店,2026-11-20 14:03:11,出荷済み,2026-11-26 09:12:40,2026-11-26,223456789012,
    CSV
  }

  expect "100000001201" {
    send = { invoice_no = "123456789012", expected_arrival = "2026-11-28" }
  }
  expect "100000002201" { excluded = "store" }
}

run "shop-b-takes-its-store-only" {
  job = "shipping[\"b\"]"
  now = "2026-11-28T10:00:00+09:00"

  variables {
    shops = {
      a = { store = "FutureShop 1号店", env_prefix = "SHOP_A" }
      b = { store = "FutureShop 2号店", env_prefix = "SHOP_B" }
    }
  }

  input {
    csv = <<-CSV
      受注番号,販売店舗,注文日,受注ステータス,最終更新日時,出荷日,お荷物伝票番号,お届け指定日
      100000001201,FutureShop 1号店,2026-11-20 14:03:11,出荷済み,2026-11-26 09:12:40,2026-11-26,123456789012,2026-11-28
      100000002201,FutureShop 2号店,2026-11-20 14:03:11,出荷済み,2026-11-26 09:12:40,2026-11-26,223456789012,
    CSV
  }

  expect "100000001201" { excluded = "store" }
  expect "100000002201" {
    send = { invoice_no = "223456789012", expected_arrival = "" }
  }
}
