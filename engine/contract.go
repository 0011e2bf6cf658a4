package engine

import (
	"github.com/applink-dev/applink/dsl"
	"github.com/applink-dev/applink/engine/connector"
)

// Registry names the connectors a command may use, one descriptor each.
// cmd/applink fills it; no connector registers itself.
type Registry struct {
	Sources []connector.SourceDescriptor // by Spec.Name, the driver
	Sinks   []connector.SinkDescriptor   // by Spec.Name, the kind of a spec's `sink "KIND"` block
	// States describe the state block's drivers to the spec language (the
	// state itself is opened by engine/state).
	States []dsl.Connector
	// Outbox is the embedded default sink, used when the spec has no sink
	// block: a folder that is cumulative across runs.
	Outbox  func(dir string) connector.Sink
	Staging connector.StagingArea
}

// PrepareSink calls the plan's sink's Plan hook, if any.
func (r Registry) PrepareSink(p *Plan) error {
	if p.Sink == nil || p.Sink.Kind == "" {
		return nil
	}
	if d := r.Sink(p.Sink.Kind); d != nil && d.MaxLength != nil {
		return p.SetFieldMaxLength(d.MaxLength(*p.Sink))
	}
	return nil
}

// Source is the descriptor of a driver, or nil.
func (r Registry) Source(driver string) *connector.SourceDescriptor {
	for i := range r.Sources {
		if r.Sources[i].Spec.Name == driver {
			return &r.Sources[i]
		}
	}
	return nil
}

// Sink is the descriptor of a sink kind, or nil.
func (r Registry) Sink(kind string) *connector.SinkDescriptor {
	for i := range r.Sinks {
		if r.Sinks[i].Spec.Name == kind {
			return &r.Sinks[i]
		}
	}
	return nil
}

// Connectors are the descriptors' blocks, for dsl.LoadWith and the
// reference page.
func (r Registry) Connectors() dsl.Connectors {
	var out dsl.Connectors
	for _, s := range r.Sources {
		out = append(out, s.Spec)
	}
	for _, s := range r.Sinks {
		out = append(out, s.Spec)
	}
	return append(out, r.States...)
}
