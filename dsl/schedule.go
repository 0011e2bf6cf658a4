package dsl

import (
	"time"

	"github.com/hashicorp/hcl/v2"
)

// Schedule is the `schedule { every = "5m" }` block: how often `applink
// serve` runs the spec. The zero value (no block) means the spec has no
// schedule of its own; serve then needs --every.
type Schedule struct {
	Every time.Duration
	Range hcl.Range // the every attribute's value, for messages about it
}

// MinScheduleEvery is the shortest interval a spec may ask for: a run opens
// every source and the state, so anything shorter is a typo ("5" for "5m")
// rather than a wish. `serve --every` is not bound by it (tests use it).
const MinScheduleEvery = time.Second

var scheduleBlock = hcl.BlockHeaderSchema{Type: "schedule"}

var scheduleSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "every", Required: true}},
}

func (d *decoder) decodeSchedule(b *hcl.Block) {
	c, diags := b.Body.Content(scheduleSchema)
	d.diags = append(d.diags, diags...)
	a := c.Attributes["every"]
	if a == nil {
		return
	}
	every, ok := d.duration(a)
	if !ok {
		return
	}
	if every < MinScheduleEvery {
		d.errorf(a.Expr.Range(), a.Range, "Schedule too frequent",
			"every is the time between the starts of two runs; %s is shorter than the minimum of %s. Use an interval such as \"30s\", \"5m\" or \"1h\".", every, MinScheduleEvery)
		return
	}
	d.spec.Schedule = Schedule{Every: every, Range: a.Expr.Range()}
}
