package engine

import (
	"fmt"
	"runtime/debug"
)

// PanicError is a panic in the engine or a connector, caught so that a bug
// ends the run with an error naming the row it was processing (nothing is
// committed) instead of crashing the process.
type PanicError struct {
	Where string // the stage and the row: "evaluating call C1 (calls.csv:12)"
	Value any
	Stack []byte
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("internal error while %s: %v (nothing was committed; please report this with the stack trace)", e.Where, e.Value)
}

// recoverTo turns a panic into a *PanicError in *err; where says what was
// being done when it happened. Use it deferred, first thing in a goroutine.
func recoverTo(err *error, where func() string) {
	if p := recover(); p != nil {
		*err = &PanicError{Where: where(), Value: p, Stack: debug.Stack()}
	}
}

// recDesc names a record for messages: its call id and where it came from.
func recDesc(r *rec) string {
	if r == nil {
		return "no call yet"
	}
	id := r.call.CallID
	if id == "" {
		id = "(no id)"
	}
	if r.pos != "" {
		return fmt.Sprintf("call %s (%s)", id, r.pos)
	}
	return "call " + id
}
