package job

// Progress is lossy (the latest wins, so the engine never blocks on the
// screen); the result is not.

import (
	"context"

	tea "charm.land/bubbletea/v2"

	"github.com/applink-dev/applink/engine"
)

// Job is one run of work in flight, ending in a message of type D.
type Job[D any] struct {
	progress chan engine.Progress
	done     chan D
}

// ProgressMsg carries the latest progress of a job; the pane that owns the
// job answers it with Wait to get the next message.
type ProgressMsg[D any] struct {
	Progress engine.Progress
	Job      *Job[D]
}

// Start runs work in a goroutine with a cancellable context and returns the
// job and its cancel function. work reports progress through its argument
// and returns the done message.
func Start[D any](ctx context.Context, work func(ctx context.Context, progress func(engine.Progress)) D) (*Job[D], context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	j := &Job[D]{progress: make(chan engine.Progress, 1), done: make(chan D, 1)}
	go func() {
		defer cancel()
		j.done <- work(ctx, func(p engine.Progress) {
			select { // drop a stale update rather than block the engine
			case <-j.progress:
			default:
			}
			j.progress <- p
		})
	}()
	return j, cancel
}

// Wait is the tea.Cmd that delivers the job's next message: its result, or
// its latest progress as a ProgressMsg.
func (j *Job[D]) Wait() tea.Msg {
	select {
	case d := <-j.done:
		return d
	case p := <-j.progress:
		return ProgressMsg[D]{Progress: p, Job: j}
	}
}
