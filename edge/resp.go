package edge

import "bytes"

// reqScanner follows a client's request stream without buffering it and
// tells where each command ends: the framing the edge needs to pause a
// connection at a command boundary (for keeping connections open through a
// planned switchover). It reads only headers byte by byte and skips bulk
// payloads by arithmetic, so it costs little next to the copy itself.
//
// Requests are RESP arrays of bulk strings (`*2\r\n$3\r\nGET\r\n$1\r\nk\r\n`)
// or inline commands (a line ending in \n), as the engine reads them. A
// stream the engine would reject (it answers a protocol error and closes)
// leaves the scanner broken: it stops counting, and a connection in that
// state cannot be moved, only closed.
type reqScanner struct {
	st     scanState
	num    int64 // the number being read (array count or bulk length)
	digits int   // digits read into num
	neg    bool  // num had a leading '-'
	cr     bool  // the line's \r was read: only \n may follow
	args   int64 // bulk strings left in the current array
	skip   int64 // payload bytes (and CRLF) left in the current bulk string
	cmds   uint64
	broken bool
}

type scanState uint8

const (
	stStart    scanState = iota // at a command boundary
	stInline                    // in an inline command, until \n
	stCount                     // after '*', reading the count until \n
	stArgStart                  // expecting '$' of the next bulk string
	stBulkLen                   // after '$', reading the length until \n
	stBulkData                  // skipping payload and its CRLF
)

// maxRESPNumber bounds counts and lengths: the engine refuses far smaller
// ones (proto-max-bulk-len is 512 MB by default), and it keeps the sums
// below overflow.
const maxRESPNumber = 1 << 40

// feed consumes p and returns how many commands ended in it and the offset
// just past the last of them (-1 if none did).
func (s *reqScanner) feed(p []byte) (cmds int, last int) {
	last = -1
	defer func() { s.cmds += uint64(cmds) }()
	for i := 0; i < len(p) && !s.broken; {
		switch s.st {
		case stStart:
			if p[i] == '*' {
				s.st, s.num, s.digits, s.neg, s.cr = stCount, 0, 0, false, false
			} else {
				s.st = stInline
				continue // the byte belongs to the inline command
			}
			i++
		case stInline:
			j := bytes.IndexByte(p[i:], '\n')
			if j < 0 {
				return cmds, last
			}
			i += j + 1
			s.st = stStart
			cmds, last = cmds+1, i
		case stCount, stBulkLen:
			done, ok := s.number(p[i])
			i++
			if !ok {
				s.broken = true
				break
			}
			if !done {
				continue
			}
			if s.st == stCount {
				if s.neg || s.num == 0 { // *0 and *-1: an empty command, no reply
					s.st = stStart
					cmds, last = cmds+1, i
					continue
				}
				s.args, s.st = s.num, stArgStart
				continue
			}
			if s.neg {
				s.broken = true // the engine: "invalid bulk length"
				break
			}
			s.skip, s.st = s.num+2, stBulkData
		case stArgStart:
			if p[i] != '$' {
				s.broken = true // the engine: "expected '$', got ..."
				break
			}
			s.st, s.num, s.digits, s.neg, s.cr = stBulkLen, 0, 0, false, false
			i++
		case stBulkData:
			n := min(int64(len(p)-i), s.skip)
			i += int(n)
			if s.skip -= n; s.skip > 0 {
				return cmds, last
			}
			if s.args--; s.args > 0 {
				s.st = stArgStart
				continue
			}
			s.st = stStart
			cmds, last = cmds+1, i
		}
	}
	return cmds, last
}

// number reads one byte of a "-?digits\r\n" line: done at \n, !ok on a
// byte the engine would refuse.
func (s *reqScanner) number(b byte) (done, ok bool) {
	switch {
	case s.cr:
		return b == '\n', b == '\n' && s.digits > 0
	case b >= '0' && b <= '9':
		s.num = s.num*10 + int64(b-'0')
		s.digits++
		return false, s.num <= maxRESPNumber
	case b == '-' && s.digits == 0 && !s.neg:
		s.neg = true
		return false, true
	case b == '\r':
		s.cr = true
		return false, true
	}
	return false, false
}

// atBoundary reports whether the stream so far ends between commands.
func (s *reqScanner) atBoundary() bool { return s.st == stStart && !s.broken }
