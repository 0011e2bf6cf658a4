spec {
customer = "acme"
    cxone_tenant="acme-eu1"
  installed_at          = "2026-11-01T00:00:00Z"
}
field "text" "A" {value="bd.A"
on_error =   "omit"
}
calls {
  where = <<-EXPR
        call.skill != ""
  EXPR
}
