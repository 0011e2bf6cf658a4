# Acme Retail: one standalone Engage (no tenants). CXone went live on
# 2026-11-01; on 2026-11-03 Acme asked for the week before go-live as well.
spec {
  customer              = "acme"
  cxone_tenant          = "acme-eu1"
  installed_at          = "2026-11-01T00:00:00Z"
  backfill_requested_at = "2026-11-03T00:00:00Z"
}

source "engage" "main" {
  driver    = "snapshot"
  path      = "data"
  system_id = "engage-acme"
}

agents {
  # Load-test and training accounts are not people.
  where = "!(agent.email endsWith '@test.acme.example')"
}

calls {
  # Agent-to-agent calls are not customer interactions.
  where = "call.direction != 'internal'"
}
