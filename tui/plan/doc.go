// Package plan owns the plan pane: what a run of the spec would do (sources,
// window, rule chain, filters, field map, as engine.Plan prints it) with each
// stage's row count once the preview has computed it. It only renders.
package plan
