package cli

import (
	"fmt"
	"io"
	"sync"
	"time"
)

var spinnerFrames = []string{"⣾", "⣽", "⣻", "⢿", "⡿", "⣟", "⣯", "⣷"}

// spinner shows `msg... ⣾ status` on stderr while slow work runs, and ends the
// line with a word such as `done` or `failed`. It animates only on a terminal;
// elsewhere it prints the finished line once, so logs and captured output
// carry no control characters.
type spinner struct {
	w       io.Writer
	msg     string
	animate bool

	mu     sync.Mutex
	status string

	stop     chan struct{}
	done     chan struct{}
	finished sync.Once
}

// startSpinner starts a spinner for msg; animate says whether w is a terminal.
// Every spinner must be finished, which also stops its goroutine.
func startSpinner(w io.Writer, animate bool, msg string) *spinner {
	return startSpinnerEvery(w, animate, msg, 100*time.Millisecond)
}

func startSpinnerEvery(w io.Writer, animate bool, msg string, every time.Duration) *spinner {
	s := &spinner{w: w, msg: msg, animate: animate, stop: make(chan struct{}), done: make(chan struct{})}
	if !animate {
		close(s.done)
		return s
	}
	go s.loop(every)
	return s
}

func (s *spinner) loop(every time.Duration) {
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

// setStatus shows text after the spinner, such as an operation's progress.
func (s *spinner) setStatus(text string) {
	s.mu.Lock()
	s.status = text
	s.mu.Unlock()
}

// finish stops the spinner and prints `msg... word`. Later calls do nothing.
func (s *spinner) finish(word string) {
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

// finishErr finishes with `done`, or `failed` when err is not nil, and
// returns err, so callers end a step in one line.
func (s *spinner) finishErr(err error) error {
	if err != nil {
		s.finish("failed")
	} else {
		s.finish("done")
	}
	return err
}
