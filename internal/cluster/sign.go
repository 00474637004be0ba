package cluster

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// maxAge is how old (or how far ahead) a signed message may be: older ones are replays.
const maxAge = 5 * time.Minute

// signedHeaders are the headers a signature covers, in order.
var signedHeaders = []string{hdrUser, hdrNode, hdrSince, hdrTime}

// mac computes the signature of m: HMAC-SHA256 over the subject, the signed headers and
// the data, each prefixed with its length so that no two messages share an input.
func (b *Bus) mac(m *nats.Msg) []byte {
	h := hmac.New(sha256.New, b.cfg.secret)
	var n [8]byte
	write := func(s []byte) {
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write(s)
	}
	write([]byte(m.Subject))
	for _, k := range signedHeaders {
		write([]byte(m.Header.Get(k)))
	}
	write(m.Data)
	return h.Sum(nil)
}

// Sign stamps m with the time and signs it with the cluster secret. Every message a node
// publishes is signed; other publishers on the subject (lease traffic) use their own
// subjects.
func (b *Bus) Sign(m *nats.Msg) {
	if m.Header == nil {
		m.Header = nats.Header{}
	}
	m.Header.Set(hdrTime, strconv.FormatInt(time.Now().UnixNano(), 10))
	m.Header.Set(hdrSig, hex.EncodeToString(b.mac(m)))
}

// Verify reports whether m carries a valid, recent signature of the cluster secret.
func (b *Bus) Verify(m *nats.Msg) bool {
	if m.Header == nil {
		return false
	}
	sig, err := hex.DecodeString(m.Header.Get(hdrSig))
	if err != nil || len(sig) != sha256.Size {
		return false
	}
	at, err := strconv.ParseInt(m.Header.Get(hdrTime), 10, 64)
	if err != nil {
		return false
	}
	if d := time.Since(time.Unix(0, at)); d > maxAge || d < -maxAge {
		return false
	}
	return hmac.Equal(sig, b.mac(m))
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// readSecret reads a secret from the environment variable env or the file file.
func readSecret(env, file string) ([]byte, error) {
	switch {
	case env != "":
		v := strings.TrimSpace(os.Getenv(env))
		if v == "" {
			return nil, fmt.Errorf("the environment variable %s is empty", env)
		}
		return []byte(v), nil
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		v := strings.TrimSpace(string(b))
		if v == "" {
			return nil, fmt.Errorf("%s is empty", file)
		}
		return []byte(v), nil
	}
	return nil, errors.New("not set")
}

// authOptions are the NATS options for the credentials and TLS the config names.
func (c Config) authOptions() ([]nats.Option, error) {
	var opts []nats.Option
	if c.CredentialsFile != "" {
		if _, err := os.Stat(c.CredentialsFile); err != nil {
			return nil, fmt.Errorf("cluster.credentials_file: %w", err)
		}
		opts = append(opts, nats.UserCredentials(c.CredentialsFile))
	}
	if c.NKeyFile != "" {
		o, err := nats.NkeyOptionFromSeed(c.NKeyFile)
		if err != nil {
			return nil, fmt.Errorf("cluster.nkey_file: %w", err)
		}
		opts = append(opts, o)
	}
	if c.User != "" {
		pw, err := readSecret(c.PasswordEnv, c.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("cluster.password_env: %w", err)
		}
		opts = append(opts, nats.UserInfo(c.User, string(pw)))
	}
	if c.TLSCA != "" || c.TLSCert != "" {
		tc := &tls.Config{MinVersion: tls.VersionTLS12}
		if c.TLSCA != "" {
			pem, err := os.ReadFile(c.TLSCA)
			if err != nil {
				return nil, fmt.Errorf("cluster.tls_ca: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("cluster.tls_ca: no certificate in %s", c.TLSCA)
			}
			tc.RootCAs = pool
		}
		if c.TLSCert != "" {
			cert, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey)
			if err != nil {
				return nil, fmt.Errorf("cluster.tls_cert: %w", err)
			}
			tc.Certificates = []tls.Certificate{cert}
		}
		opts = append(opts, nats.Secure(tc))
	}
	return opts, nil
}
