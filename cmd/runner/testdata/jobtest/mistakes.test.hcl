run "misspelt" {
  job = "shiping-to-futureshop"
  now = "2026-11-28T10:00:00+09:00"
  input { csv = "受注番号\n1\n" }
}

run "wrong-names" {
  job     = "shipping-to-futureshop"
  now     = "2026-11-28 10:00"
  comand  = "run"

  input {
    csv = "受注番号\n1\n"
  }

  expect "100000001201" { send = { invoce_no = "1" } }
  expect "100000001202" { excluded = "updated-4" }
  expect "100000001203" {
    send     = {}
    excluded = "status"
  }
  expect "100000001204" { failure = "CannotUpdateStorePickup" }
}

run "no-input" {
  job = "shipping-to-futureshop"
  now = "2026-11-28T10:00:00+09:00"
  exect "100000001201" { send = {} }
}
