package cxone

import "github.com/applink-dev/applink/engine"

// Delivered says what the run delivered to CXone (engine.DeliveryCounter),
// for the summary and the report: users, calls acknowledged, media files
// and business-data values. Read after Commit.
func (s *Sink) Delivered() []engine.Delivered {
	st := s.Stats()
	return []engine.Delivered{
		{What: "agents created", N: st.AgentsCreated},
		{What: "agents updated", N: st.AgentsUpdated},
		{What: "calls", N: st.CallsAcked},
		{What: "media files", N: st.Media},
		{What: "calls with business data", N: st.BusinessData},
	}
}
