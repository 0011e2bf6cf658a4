spec {
  customer              = "acme"
  cxone_tenant          = "acme-eu1"
  installed_at          = "2026-11-01T00:00:00Z"
  backfill_requested_at = "2026-11-03T00:00:00Z"
  backfill_days         = 5
}

source "engage" "dc1" {
  driver    = "snapshot"
  path      = "data/engage"
  system_id = "engage-acme"
}

source "engage" "dc2" {
  driver             = "mssql"
  system_id          = "engage-acme"
  site               = "Frankfurt"
  dsn                = env("APPLINK_TEST_DSN")
  application_intent = "ReadOnly"
  batch_size         = 5000
  query_timeout      = "2m"
  queries {
    calls = "SELECT 1"
  }
}

tenant {
  where = "tenant_id == 12"
}

agents {
  where = "!(agent.email endsWith '@test.example')"
}

calls {
  where = <<-EXPR
    call.direction != "internal" &&
      call.duration_ms > 2000
  EXPR
}

staging {
  retention_days = 30
}

sink "cxone" {
  api_url             = "https://api-eu1.niceincontact.com"
  auth_url            = "https://cxone.niceincontact.com/auth/token"
  concurrency         = 8
  requests_per_second = 20
  timeout             = "30s"
}
