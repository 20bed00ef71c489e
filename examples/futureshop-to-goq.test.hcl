# Tests of futureshop-to-goq.hcl: runner test examples/
#
# The orders come from runner test's futureshop test shop; the GoQ import
# file goes to a temporary directory. At 2026-11-28 10:00 JST the order
# search (days = 10) reaches back to 2026-11-18 00:00:00.

run "order-search-window" {
  job = "orders-to-goq"
  now = "2026-11-28T10:00:00+09:00"

  shop {
    order "100000002001" { ordered_at = "2026-11-18 00:00:00" } # the first moment in
    order "100000002002" { ordered_at = "2026-11-17 23:59:59" } # the last moment out
    order "100000002003" { ordered_at = "2026-11-28 09:59:59" }
  }

  expect "100000002001" {
    send = { order_no = "100000002001", line_no = 1, ordered_at = "2026-11-18 00:00:00" }
  }
  expect "100000002002" { absent = true }
  expect "100000002003" { send = {} }
}

run "has-products" {
  job = "orders-to-goq"
  now = "2026-11-28T10:00:00+09:00"

  shop {
    order "100000002011" {
      ordered_at = "2026-11-27 12:00:00"
      product {
        sku_no       = "SKU-1"
        name         = "テスト商品"
        price        = 3000
        count        = 1 # the first count in
        option_name  = "ギフト包装"
        option_price = 300
      }
    }
    order "100000002012" {
      ordered_at = "2026-11-27 12:00:00"
      product {
        sku_no = "SKU-2"
        name   = "送料"
        price  = 0
        count  = 0 # the last count out
      }
    }
    order "100000002013" {
      ordered_at = "2026-11-27 12:00:00"
      product {
        name  = "SKUなし"
        price = 500
        count = 2
      }
    }
  }

  expect "100000002011/1" {
    send = { sku_no = "SKU-1", unit_price = 3300, count = 1 } # option prices added
  }
  expect "100000002012" { excluded = "has-products" }
  expect "100000002013" { excluded = "has-products" }
}

run "delivery-date" {
  job = "orders-to-goq"
  now = "2026-11-28T10:00:00+09:00"

  shop {
    order "100000002021" {
      ordered_at              = "2026-11-27 12:00:00"
      preferred_delivery_date = "2026-12-01"
      preferred_delivery_time = "14:00-16:00"
    }
    order "100000002022" { ordered_at = "2026-11-27 12:00:00" }
  }

  expect "100000002021" {
    send = { preferred_delivery_date = "2026-12-01", preferred_delivery_time = "14:00-16:00" }
  }
  expect "100000002022" { send = { order_no = "100000002022" } }
}

run "import-file" {
  job     = "orders-to-goq"
  now     = "2026-11-28T10:00:00+09:00"
  command = "run"

  shop {
    order "100000002031" { ordered_at = "2026-11-27 12:00:00" }
  }

  expect "100000002031" { send = { buyer_name = "山田 花子" } }

  calls = {
    "GET /admin-api/v1/shipping"         = 1
    "POST /admin-api/v1/shipping/status" = 0
  }
}
