path = "sample.csv"
encoding = "utf-8"
