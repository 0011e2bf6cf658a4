# Business data sent with each call. VIP drives the Quality Plan for
# priority customers in CXone.

field "text" "CustomerID" {
  value = "bd.CustomerID"
}

field "text" "Tier" {
  value = "bd.Tier"
}

field "text" "Skill" {
  value = "call.skill"
}

field "number" "OrderTotal" {
  value = "float(bd.OrderTotal)"
}

field "boolean" "VIP" {
  # Gold and platinum customers, and anyone with an order of 5,000 or more.
  value = <<-EXPR
    bd.Tier in ["gold", "platinum"] ||
    (bd.OrderTotal != "" && float(bd.OrderTotal) >= 5000)
  EXPR
}
