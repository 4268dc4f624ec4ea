package edge

import (
	"errors"
	"io"
	"net"
	"sync"
	"syscall"
)

// bufSize is a TLS record's largest payload: one read of a TLS client
// takes a whole record.
const bufSize = 16 << 10

var bufPool = sync.Pool{New: func() any { b := make([]byte, bufSize); return &b }}

// copyPooled copies src to dst until EOF (a nil error), counting commands
// with scan when it is set. It takes a buffer from the pool only once src
// has data and gives it back before waiting again, so an idle connection
// holds none.
func copyPooled(dst io.Writer, src *net.TCPConn, scan *reqScanner, counted func(int)) error {
	rc, err := src.SyscallConn()
	if err != nil {
		return err
	}
	for {
		buf, n, err := readPooled(rc)
		if n > 0 {
			err = write(dst, (*buf)[:n], scan, counted)
		}
		if buf != nil {
			bufPool.Put(buf)
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// readPooled reads what src has, waiting without a buffer while it has
// nothing. The read itself happens inside RawConn.Read, which waits for
// readiness between attempts and honours deadlines and Close.
func readPooled(rc syscall.RawConn) (buf *[]byte, n int, err error) {
	var rerr error
	err = rc.Read(func(fd uintptr) bool {
		if buf == nil {
			buf = bufPool.Get().(*[]byte)
		}
		for {
			n, rerr = syscall.Read(int(fd), *buf)
			if rerr != syscall.EINTR {
				break
			}
		}
		if rerr == syscall.EAGAIN {
			bufPool.Put(buf)
			buf = nil
			return false
		}
		return true
	})
	switch {
	case err != nil:
	case rerr != nil:
		err = rerr
	case n == 0:
		err = io.EOF
	}
	if n < 0 {
		n = 0
	}
	return buf, n, err
}

// copyBuffered copies src to dst until EOF (a nil error) through one
// pooled buffer held for the whole copy: for sources such as a TLS
// connection that buffer data of their own, so readiness of the socket
// says nothing.
func copyBuffered(dst io.Writer, src io.Reader, scan *reqScanner, counted func(int)) error {
	buf := bufPool.Get().(*[]byte)
	defer bufPool.Put(buf)
	for {
		n, err := src.Read(*buf)
		if n > 0 {
			if werr := write(dst, (*buf)[:n], scan, counted); werr != nil {
				return werr
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func write(dst io.Writer, p []byte, scan *reqScanner, counted func(int)) error {
	if scan != nil {
		if n, _ := scan.feed(p); n > 0 {
			counted(n)
		}
	}
	_, err := dst.Write(p)
	return err
}
