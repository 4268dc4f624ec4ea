package broker

import (
	"context"
	"errors"
	"sync"

	"github.com/sirupsen/logrus"

	"larder/api"
	"larder/fault"
	"larder/store"
)

// jobRunner runs operations in goroutines it owns. Closing it cancels their
// context; a job cut short that way stays unfinished in the store and is resumed
// by the next broker.
type jobRunner struct {
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	log    logrus.FieldLogger
}

func newJobRunner(log logrus.FieldLogger) *jobRunner {
	ctx, cancel := context.WithCancel(context.Background())
	return &jobRunner{ctx: ctx, cancel: cancel, log: log}
}

// step is one operation's work; progress reports a short status line.
type step func(ctx context.Context, progress func(string)) error

// Run starts op's work in the background and records how it ends.
func (r *jobRunner) Run(st store.Store, op store.Operation, work step) {
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		log := r.log.WithFields(logrus.Fields{"op": op.Kind, "operation": op.ID, "addon": op.AddonName})
		ctx := r.ctx
		last := ""
		progress := func(p string) {
			last = p
			if err := st.UpdateOperation(ctx, op.ID, api.OpRunning, p, ""); err != nil && ctx.Err() == nil {
				log.WithError(err).Warn("record progress")
			}
		}
		progress("started")
		err := work(ctx, progress)
		if err != nil && errors.Is(err, context.Canceled) && r.ctx.Err() != nil {
			log.Info("broker stopping; operation left for the next start to resume")
			return
		}
		state, msg := api.OpSucceeded, ""
		if err != nil {
			state, msg = api.OpFailed, fault.Message(err)
			log.WithError(err).Error("operation failed")
		} else {
			last = "done"
			log.Info("operation succeeded")
		}
		if err := st.UpdateOperation(context.Background(), op.ID, state, last, msg); err != nil {
			log.WithError(err).Error("record operation result")
		}
	}()
}

// Close cancels running jobs and waits for them until ctx ends.
func (r *jobRunner) Close(ctx context.Context) error {
	r.cancel()
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
