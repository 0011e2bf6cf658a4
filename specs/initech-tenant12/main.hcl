# Initech: tenant 12 of a multi-tenant (hosted) Engage shared with other
# companies. Only tenant 12's agents and calls may leave; contractors'
# accounts stay behind. Initech fills all 50 business-data fields CXone
# allows (fields.hcl).
spec {
  customer     = "initech"
  cxone_tenant = "initech-emea"
  installed_at = "2026-11-10T00:00:00Z"
}

source "engage" "hosted" {
  driver    = "snapshot"
  path      = "data"
  system_id = "engage-hosting-eu"
}

tenant {
  where = "tenant_id == 12"
}

agents {
  where = "!(agent.email endsWith '@contractor.initech.example')"
}
