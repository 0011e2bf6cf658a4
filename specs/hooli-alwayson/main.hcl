# Hooli: Engage on SQL Server in two data centres, each an Always On
# availability group. applink reads each site through its listener with
# ReadOnly intent (a secondary replica), so the recorder's primary is never
# loaded; a failover drops the connection and the source resumes from the
# last page it read. The DSNs, with their passwords, come from the
# environment, never from the spec:
#   ENGAGE_CHI_DSN=sqlserver://applink:…@engage-chi-ag.hooli.example:1433?database=nice_interactions
#   ENGAGE_DAL_DSN=sqlserver://applink:…@engage-dal-ag.hooli.example:1433?database=nice_interactions
# `applink check specs/hooli-alwayson` tells whether each listener answers,
# whether the session landed on a read-only replica, and whether every table
# the queries need is readable. The tests in tests/ run the same rules on
# fixture rows (applink test replaces the sources with the fixture's data).
spec {
  customer     = "hooli"
  cxone_tenant = "hooli-us2"
  installed_at = "2026-10-15T00:00:00Z"
}

source "engage" "dc1" {
  driver             = "mssql"
  dsn                = env("ENGAGE_CHI_DSN")
  application_intent = "ReadOnly"
  system_id          = "engage-hooli"
  site               = "chicago"
  batch_size         = 5000
  query_timeout      = "60s"
}

source "engage" "dc2" {
  driver             = "mssql"
  dsn                = env("ENGAGE_DAL_DSN")
  application_intent = "ReadOnly"
  system_id          = "engage-hooli"
  site               = "dallas"
  batch_size         = 5000
  query_timeout      = "60s"
}

calls {
  # The voicemail skill records messages, not conversations.
  where = "call.skill != 'voicemail'"
}

field "text" "Site" {
  value = "call.site"
}

field "text" "AccountID" {
  value = "bd.AccountID"
}

field "number" "HandleSeconds" {
  value = "call.duration_ms / 1000.0"
}

field "boolean" "Escalated" {
  value = "bd.Escalated == 'true'"
}
