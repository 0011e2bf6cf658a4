# Globex: one Engage system recording in two data centres (Chicago and
# Dallas). Both sites list the same users; calls are recorded at either
# site, and a call recorded at both is imported once.
spec {
  customer     = "globex"
  cxone_tenant = "globex-us2"
  installed_at = "2026-10-15T00:00:00Z"
}

source "engage" "dc1" {
  driver    = "snapshot"
  path      = "data/dc1"
  system_id = "engage-globex"
  site      = "chicago"
}

source "engage" "dc2" {
  driver    = "snapshot"
  path      = "data/dc2"
  system_id = "engage-globex"
  site      = "dallas"
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
