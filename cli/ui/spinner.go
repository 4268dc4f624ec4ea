package ui

import (
	"fmt"
	"io"
	"sync"
	"time"
)

var spinnerFrames = []string{"⣾", "⣽", "⣻", "⢿", "⡿", "⣟", "⣯", "⣷"}

// Spinner shows `msg... ⣾ status` on stderr while slow work runs, and ends the
// line with a word such as `done` or `failed`. It animates only on a terminal;
// elsewhere it prints the finished line once, so logs and captured output
// carry no control characters.
type Spinner struct {
	w       io.Writer
	msg     string
	animate bool

	mu     sync.Mutex
	status string

	stop     chan struct{}
	done     chan struct{}
	finished sync.Once
}

// StartSpinner starts a spinner for msg; animate says whether w is a terminal.
// Every spinner must be finished, which also stops its goroutine.
func StartSpinner(w io.Writer, animate bool, msg string) *Spinner {
	return startSpinnerEvery(w, animate, msg, 100*time.Millisecond)
}

func startSpinnerEvery(w io.Writer, animate bool, msg string, every time.Duration) *Spinner {
	s := &Spinner{w: w, msg: msg, animate: animate, stop: make(chan struct{}), done: make(chan struct{})}
	if !animate {
		close(s.done)
		return s
	}
	go s.loop(every)
	return s
}

func (s *Spinner) loop(every time.Duration) {
	defer close(s.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for i := 0; ; i++ {
		s.mu.Lock()
		status := s.status
		s.mu.Unlock()
		fmt.Fprintf(s.w, "\r\x1b[K%s... %s %s", s.msg, spinnerFrames[i%len(spinnerFrames)], status)
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
	}
}

// SetStatus shows text after the spinner, such as an operation's progress.
func (s *Spinner) SetStatus(text string) {
	s.mu.Lock()
	s.status = text
	s.mu.Unlock()
}

// Finish stops the spinner and prints `msg... word`. Later calls do nothing.
func (s *Spinner) Finish(word string) {
	s.finished.Do(func() {
		close(s.stop)
		<-s.done
		prefix := ""
		if s.animate {
			prefix = "\r\x1b[K"
		}
		fmt.Fprintf(s.w, "%s%s... %s\n", prefix, s.msg, word)
	})
}

// FinishErr finishes with `done`, or `failed` when err is not nil, and
// returns err, so callers end a step in one line.
func (s *Spinner) FinishErr(err error) error {
	if err != nil {
		s.Finish("failed")
	} else {
		s.Finish("done")
	}
	return err
}
