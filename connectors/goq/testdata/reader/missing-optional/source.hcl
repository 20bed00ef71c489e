path = "*.csv"
optional = ["delivery_time", "note"]
