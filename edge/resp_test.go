package edge

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestScannerCounts(t *testing.T) {
	tests := []struct {
		name       string
		in         string
		cmds       int
		boundary   bool
		wantBroken bool
	}{
		{"one array", "*1\r\n$4\r\nPING\r\n", 1, true, false},
		{"pipeline", "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n", 2, true, false},
		{"payload holding CRLF and *", "*2\r\n$4\r\nECHO\r\n$6\r\n*1\r\n\r\n\r\n", 1, true, false},
		{"inline", "PING\r\nGET k\n", 2, true, false},
		{"empty arrays", "*0\r\n*-1\r\n", 2, true, false},
		{"half a command", "*2\r\n$3\r\nGET\r\n$1\r\n", 0, false, false},
		{"half an inline", "PIN", 0, false, false},
		{"not a bulk string", "*1\r\n:1\r\n", 0, false, true},
		{"negative bulk length", "*1\r\n$-1\r\n", 0, false, true},
		{"count without CR", "*1\n$4\r\nPING\r\n", 0, false, true},
		{"digits after CR", "*1\r2\n", 0, false, true},
		{"huge length", "*1\r\n$99999999999999\r\n", 0, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s reqScanner
			cmds, last := s.feed([]byte(tt.in))
			if cmds != tt.cmds || s.atBoundary() != tt.boundary || s.broken != tt.wantBroken {
				t.Fatalf("feed(%q) = %d commands, boundary %v, broken %v; want %d, %v, %v",
					tt.in, cmds, s.atBoundary(), s.broken, tt.cmds, tt.boundary, tt.wantBroken)
			}
			if tt.boundary && cmds > 0 && last != len(tt.in) {
				t.Errorf("last boundary at %d, want %d", last, len(tt.in))
			}
		})
	}
}

// encode writes a command as clients do: an array of bulk strings.
func encode(args []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	return b.String()
}

// Random pipelines cut at random places: the scanner finds every command
// and every boundary, wherever the reads split them.
func TestScannerRandomPipelines(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 200 {
		var stream strings.Builder
		var ends []int
		cmds := 1 + rng.IntN(20)
		for range cmds {
			args := make([]string, 1+rng.IntN(4))
			for i := range args {
				args[i] = strings.Repeat(string(rune('a'+rng.IntN(3)))+"\r\n*$", rng.IntN(50))
			}
			if rng.IntN(5) == 0 {
				stream.WriteString("PING " + strings.Repeat("x", rng.IntN(20)) + "\r\n") // inline
			} else {
				stream.WriteString(encode(args))
			}
			ends = append(ends, stream.Len())
		}
		in := []byte(stream.String())
		var s reqScanner
		var got []int
		for off := 0; off < len(in); {
			n := min(len(in)-off, 1+rng.IntN(64))
			_, last := s.feed(in[off : off+n])
			if last >= 0 {
				got = append(got, off+last)
			}
			off += n
		}
		if s.cmds != uint64(len(ends)) || !s.atBoundary() {
			t.Fatalf("round %d: %d commands, boundary %v; want %d, true", round, s.cmds, s.atBoundary(), len(ends))
		}
		for _, g := range got {
			if !contains(ends, g) {
				t.Fatalf("round %d: a boundary at %d, which ends no command (ends %v)", round, g, ends)
			}
		}
	}
}

func contains(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// FuzzScanner: whatever the bytes and however they are split, the scanner
// does not panic and reaches the same state as when fed in one piece.
func FuzzScanner(f *testing.F) {
	for _, s := range []string{"*1\r\n$4\r\nPING\r\n", "PING\r\n", "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", "*-1\r\n", "*1\r\n$-5\r\n", "$", "*\r\n"} {
		f.Add([]byte(s), uint8(3))
	}
	f.Fuzz(func(t *testing.T, in []byte, step uint8) {
		var whole, split reqScanner
		whole.feed(in)
		k := int(step%16) + 1
		for off := 0; off < len(in); off += k {
			split.feed(in[off:min(len(in), off+k)])
		}
		if whole != split {
			t.Fatalf("feed(%q) whole = %+v, in pieces of %d = %+v", in, whole, k, split)
		}
	})
}
