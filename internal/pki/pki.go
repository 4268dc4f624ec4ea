// Package pki keeps larder's own certificate authority: a small CA created
// at first start in a directory the caller names (ca.key, mode 0600, and
// ca.crt), which issues the server certificates of the edge. Clients that
// connect with TLS trust ca.crt (`redis-cli --tls --cacert ca.crt`), so
// the CA is never replaced silently: a directory holding a certificate
// without its key, or a key that does not match, is an error, not a reason
// to start over.
package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"larder/internal/atomicfile"
)

// The files of a CA directory.
const (
	CertFile = "ca.crt"
	KeyFile  = "ca.key"
)

// caValidity is the CA's lifetime: long, since every client's --cacert
// names it, and replacing it means touching every client.
const caValidity = 10 * 365 * 24 * time.Hour

// CA is larder's certificate authority.
type CA struct {
	Cert     *x509.Certificate
	CertPath string // the file clients trust
	key      crypto.Signer
	certPEM  []byte
}

// LoadOrCreate returns the CA kept in dir, creating dir (0700) and a new
// CA (ECDSA P-256) when it holds none. A key without a certificate (a
// crash between the two writes) gets its certificate made again; a
// certificate without a key, a key others may read, or files that do not
// belong together are errors that name the file to look at.
func LoadOrCreate(dir string) (*CA, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("ca dir: %w", err)
	}
	certPath, keyPath := filepath.Join(dir, CertFile), filepath.Join(dir, KeyFile)
	certPEM, certErr := os.ReadFile(certPath)
	if certErr != nil && !errors.Is(certErr, fs.ErrNotExist) {
		return nil, fmt.Errorf("read ca certificate: %w", certErr)
	}
	key, err := loadKey(keyPath)
	switch {
	case errors.Is(err, fs.ErrNotExist) && certErr == nil:
		return nil, fmt.Errorf("ca certificate %s has no key beside it (%s): restore the key, or move both away to make a new CA (clients must then trust the new %s)", certPath, KeyFile, CertFile)
	case errors.Is(err, fs.ErrNotExist):
		if key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			return nil, fmt.Errorf("ca key: %w", err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return nil, fmt.Errorf("ca key: %w", err)
		}
		if err := atomicfile.Write(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			return nil, fmt.Errorf("ca key: %w", err)
		}
	case err != nil:
		return nil, err
	}
	if certErr != nil { // new CA, or a key whose certificate was never written
		if certPEM, err = selfSign(key); err != nil {
			return nil, err
		}
		if err := atomicfile.Write(certPath, certPEM, 0o600); err != nil { // like every file of the data dir; clients elsewhere take `redis:credentials --ca`
			return nil, fmt.Errorf("ca certificate: %w", err)
		}
	}
	cert, err := parseCert(certPEM)
	if err != nil {
		return nil, fmt.Errorf("ca certificate %s: %w", certPath, err)
	}
	if !cert.IsCA {
		return nil, fmt.Errorf("ca certificate %s is not a CA certificate", certPath)
	}
	if !publicKeyEqual(cert.PublicKey, key.Public()) {
		return nil, fmt.Errorf("ca key %s does not belong to %s", keyPath, certPath)
	}
	return &CA{Cert: cert, CertPath: certPath, key: key, certPEM: certPEM}, nil
}

// CertPEM is the CA certificate, for clients that take a bundle rather
// than a path.
func (ca *CA) CertPEM() []byte { return append([]byte(nil), ca.certPEM...) }

// Pool is a certificate pool trusting only this CA.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// Issue makes a server certificate, valid for validity from now, for hosts:
// IP addresses and DNS names (at least one).
func (ca *CA) Issue(hosts []string, validity time.Duration) (*tls.Certificate, error) {
	if len(hosts) == 0 {
		return nil, errors.New("issue certificate: no host names or addresses")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("issue certificate: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: hosts[0], Organization: []string{"larder edge"}},
		NotBefore:    now.Add(-time.Hour), // a client clock slightly behind still accepts it
		NotAfter:     now.Add(validity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.key)
	if err != nil {
		return nil, fmt.Errorf("issue certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("issue certificate: %w", err)
	}
	return &tls.Certificate{Certificate: [][]byte{der, ca.Cert.Raw}, PrivateKey: key, Leaf: leaf}, nil
}

func selfSign(key crypto.Signer) ([]byte, error) {
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "larder CA", Organization: []string{"larder"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(caValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("ca certificate: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}

// loadKey reads the CA key, refusing one that others may read.
func loadKey(path string) (crypto.Signer, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("ca key %s is readable by others (mode %04o): chmod 600 it", path, fi.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read ca key: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("ca key %s holds no PEM block", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		if k, err = x509.ParseECPrivateKey(block.Bytes); err != nil {
			return nil, fmt.Errorf("ca key %s: %w", path, err)
		}
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("ca key %s cannot sign", path)
	}
	return s, nil
}

func parseCert(data []byte) (*x509.Certificate, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("no PEM certificate")
	}
	return x509.ParseCertificate(block.Bytes)
}

func publicKeyEqual(a, b crypto.PublicKey) bool {
	k, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(b)
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic("crypto/rand failed: " + err.Error()) // never on Linux ≥ 3.17
	}
	return n
}
