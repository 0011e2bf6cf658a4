field "text" "CustomerID" { value = "bd.CustomerID" }
field "text" "Order" { value = "bd[\"Order No\"]" }
field "number" "OrderTotal" {
  value    = "float(bd.OrderTotal)"
  on_error = "exclude"
}
field "boolean" "VIP" { value = "bd.Tier == 'gold'" }
field "text" "Skill" { value = "call.skill" }
