path = "nope.csv"
