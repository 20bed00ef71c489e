shops = {
  a = { store = "FutureShop 1号店", env_prefix = "SHOP_A" }
  b = { store = "楽天市場店", env_prefix = "SHOP_B" }
}
