package job

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/applink-dev/applink/engine"
)

// TestProgressIsLossyResultIsNot: a burst of progress never blocks the
// work (only the latest is kept), and the result arrives whatever happened
// to the progress.
func TestProgressIsLossyResultIsNot(t *testing.T) {
	release, sent := make(chan struct{}), make(chan struct{})
	j, cancel := Start(context.Background(), func(ctx context.Context, progress func(engine.Progress)) string {
		for i := range 1000 { // nobody reads meanwhile: must not block
			progress(engine.Progress{Calls: i})
		}
		close(sent)
		<-release
		return "done"
	})
	defer cancel()
	<-sent
	msg := j.Wait()
	p, ok := msg.(ProgressMsg[string])
	if !ok || p.Progress.Calls != 999 || p.Job != j {
		t.Fatalf("first message %#v, want the latest progress (999) of this job", msg)
	}
	close(release)
	if msg := j.Wait(); msg != "done" {
		t.Fatalf("then %#v, want the result", msg)
	}
}

// TestCancelReachesTheWork: the cancel function cancels the work's
// context, and the work's result still arrives.
func TestCancelReachesTheWork(t *testing.T) {
	j, cancel := Start(context.Background(), func(ctx context.Context, _ func(engine.Progress)) error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Second):
			return errors.New("never cancelled")
		}
	})
	cancel()
	if err, _ := j.Wait().(error); !errors.Is(err, context.Canceled) {
		t.Fatalf("result %v, want context.Canceled", err)
	}
}
