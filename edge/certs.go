package edge

import (
	"crypto/tls"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"larder/fault"
	"larder/internal/pki"
)

// issuedValidity is the lifetime of a certificate larder's CA issues for
// the edge; it is issued again once two thirds of it have passed.
const issuedValidity = 90 * 24 * time.Hour

// Certs is the edge's server certificate. Handshakes read it through an
// atomic pointer, so Reload swaps it without touching open connections:
// they keep the certificate they were made with, new ones get the new one.
type Certs struct {
	what  string // for errors: the files, or the CA
	load  func() (*tls.Certificate, error)
	cur   atomic.Pointer[tls.Certificate]
	renew atomic.Int64 // unix nanos after which getCertificate loads again; 0: never
	mu    sync.Mutex   // one load at a time
}

// FileCerts serves an operator's certificate (PEM, chain allowed) and key.
// Reload reads the files again.
func FileCerts(certFile, keyFile string) (*Certs, error) {
	c := &Certs{what: fmt.Sprintf("certificate %s and key %s", certFile, keyFile)}
	c.load = func() (*tls.Certificate, error) {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, err
		}
		if cert.Leaf != nil && time.Now().After(cert.Leaf.NotAfter) {
			return nil, fmt.Errorf("the certificate expired on %s", cert.Leaf.NotAfter.UTC().Format(time.DateOnly))
		}
		return &cert, nil
	}
	return c, c.Reload()
}

// CACerts serves a certificate larder's CA issues for hosts (the names and
// addresses clients connect to). Reload, and time, issue a new one.
func CACerts(ca *pki.CA, hosts []string) (*Certs, error) {
	c := &Certs{what: "the certificate from larder's CA"}
	c.load = func() (*tls.Certificate, error) {
		cert, err := ca.Issue(hosts, issuedValidity)
		if err != nil {
			return nil, err
		}
		c.renew.Store(time.Now().Add(issuedValidity * 2 / 3).UnixNano())
		return cert, nil
	}
	return c, c.Reload()
}

// Reload loads the certificate again. On error the one in use stays, and
// the error says which files and why.
func (c *Certs) Reload() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	cert, err := c.load()
	if err != nil {
		return fault.Wrap(fault.Invalid, err, "load "+c.what)
	}
	c.cur.Store(cert)
	return nil
}

// Current is the certificate new handshakes get.
func (c *Certs) Current() *tls.Certificate { return c.cur.Load() }

func (c *Certs) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	if at := c.renew.Load(); at != 0 && time.Now().UnixNano() > at && c.mu.TryLock() {
		if cert, err := c.load(); err == nil { // on error keep serving the old one; the next hello tries again
			c.cur.Store(cert)
		}
		c.mu.Unlock()
	}
	if cert := c.cur.Load(); cert != nil {
		return cert, nil
	}
	return nil, errors.New("no certificate loaded")
}
