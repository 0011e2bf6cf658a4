package engine

import (
	"context"
	"errors"

	"github.com/applink-dev/applink/engine/connector"
)

// Tee sends everything to several sinks, in order; it commits them in order
// too. The run uses it to keep a staged copy of what it sends.
func Tee(sinks ...connector.Sink) connector.Sink { return tee(sinks) }

type tee []connector.Sink

func (t tee) Open(ctx context.Context, info connector.RunInfo) error {
	for _, s := range t {
		if err := s.Open(ctx, info); err != nil {
			return err
		}
	}
	return nil
}

func (t tee) Agent(ctx context.Context, a *connector.OutAgent) error {
	for _, s := range t {
		if err := s.Agent(ctx, a); err != nil {
			return err
		}
	}
	return nil
}

func (t tee) Call(ctx context.Context, c *connector.OutCall) error {
	for _, s := range t {
		if err := s.Call(ctx, c); err != nil {
			return err
		}
	}
	return nil
}

func (t tee) Ledger(ctx context.Context, r connector.LedgerRow) error {
	for _, s := range t {
		if err := s.Ledger(ctx, r); err != nil {
			return err
		}
	}
	return nil
}

func (t tee) Commit(ctx context.Context) error {
	for _, s := range t {
		if err := s.Commit(ctx); err != nil {
			return err
		}
	}
	return nil
}

func (t tee) Abort() error {
	var errs []error
	for _, s := range t {
		errs = append(errs, s.Abort())
	}
	return errors.Join(errs...)
}

// Discard is a sink that keeps nothing: preview runs use it.
type Discard struct{}

func (Discard) Open(context.Context, connector.RunInfo) error     { return nil }
func (Discard) Agent(context.Context, *connector.OutAgent) error  { return nil }
func (Discard) Call(context.Context, *connector.OutCall) error    { return nil }
func (Discard) Ledger(context.Context, connector.LedgerRow) error { return nil }
func (Discard) Commit(context.Context) error                      { return nil }
func (Discard) Abort() error                                      { return nil }
