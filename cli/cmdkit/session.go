// Package cmdkit is what larder's command files are built with: the Session
// every command shares (the streams and the broker client), the -a/--json/
// --confirm flags and the reading of arguments, usage errors that say what to
// type instead, the typed confirmation, finding the add-on a redis:* command
// means, and waiting on the broker (an operation, the app's change feed).
//
// Commands reach the broker only through api.Client, found on first use, so
// that `--help` and usage errors work with no broker.
package cmdkit

import (
	"fmt"
	"io"
	"sync"

	"larder/api"
	"larder/cli/ui"
)

// Session is what every command shares: the streams and the broker client.
type Session struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Interactive    bool // stdin is a terminal a person can type a confirmation into
	StderrTTY      bool // stderr is a terminal, so spinners may animate

	NewClient func() (*api.Client, error) // finds the broker; called once, on first use
	once      sync.Once
	cl        *api.Client
	clErr     error
}

// NewSession is the session of a command line reading stdin and writing
// stdout and stderr, with the broker found by api.ResolveClient.
func NewSession(stdin io.Reader, stdout, stderr io.Writer) *Session {
	return &Session{
		Stdin:       stdin,
		Stdout:      stdout,
		Stderr:      stderr,
		Interactive: ui.IsTerminal(stdin),
		StderrTTY:   ui.IsTerminal(stderr),
		NewClient:   api.ResolveClient,
	}
}

// Client returns the broker client, resolving it on first use.
func (s *Session) Client() (*api.Client, error) {
	s.once.Do(func() { s.cl, s.clErr = s.NewClient() })
	return s.cl, s.clErr
}

// StartSpinner starts a spinner for msg on stderr, animated on a terminal.
func (s *Session) StartSpinner(msg string) *ui.Spinner {
	return ui.StartSpinner(s.Stderr, s.StderrTTY, msg)
}

// StepDone prints a finished step, `msg... done`, on stderr: work the broker
// did within the request just answered.
func (s *Session) StepDone(msg string) {
	fmt.Fprintf(s.Stderr, "%s... done\n", msg)
}
