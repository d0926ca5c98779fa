package ophost

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
)

// AuthorizationHeader is the request header a token travels in, as
// "Bearer <token>"; the Python and TypeScript clients use the same.
const AuthorizationHeader = "authorization"

// WithTLSRoots makes New's connection use TLS and verify the server's
// certificate against the CA certificates in pem (PEM data, one or more
// certificates) instead of the system's. NewClient ignores it.
func WithTLSRoots(pem []byte) Option {
	return func(s *settings) {
		s.pki.roots, s.pki.rootsFile, s.pki.rootsSet = pem, "", true
	}
}

// WithTLSRootsFile is WithTLSRoots with the PEM data read from the file at
// path when New is called.
func WithTLSRootsFile(path string) Option {
	return func(s *settings) {
		s.pki.roots, s.pki.rootsFile, s.pki.rootsSet = nil, path, true
	}
}

// WithTLSClientCert makes New's connection use TLS and present a client
// certificate (mTLS): certPEM is the certificate chain (the client's own
// certificate first) and keyPEM its private key, both PEM. The server is
// verified against the roots of WithTLSRoots, or else the system's.
// NewClient ignores it.
func WithTLSClientCert(certPEM, keyPEM []byte) Option {
	return func(s *settings) {
		s.pki.cert, s.pki.key, s.pki.certFile, s.pki.keyFile, s.pki.certSet = certPEM, keyPEM, "", "", true
	}
}

// WithTLSClientCertFiles is WithTLSClientCert with the PEM data read from
// the files certFile and keyFile when New is called.
func WithTLSClientCertFiles(certFile, keyFile string) Option {
	return func(s *settings) {
		s.pki.cert, s.pki.key, s.pki.certFile, s.pki.keyFile, s.pki.certSet = nil, nil, certFile, keyFile, true
	}
}

// WithToken sends token with every RPC the client makes, in the request
// header "authorization: Bearer <token>", which a server serving a token
// file (`ophost serve --token-file`) maps to an identity. A call can use
// another token: see WithCallToken. The token goes in plain text over a
// connection without TLS, so give it TLS anywhere but on loopback.
//
// A token is printable ASCII without spaces; New refuses any other. It
// applies to clients made by NewClient too.
func WithToken(token string) Option {
	return func(s *settings) { s.token = token }
}

// WithCallToken returns a copy of ctx under which a call sends token in
// place of the client's (WithToken) and in place of an authorization
// header in ctx's outgoing metadata, so that exactly one is sent. Use it
// for one call made as another identity:
//
//	ops, err := client.ListOps(ophost.WithCallToken(ctx, adminToken))
//
// A token that is not printable ASCII without spaces fails the call before
// anything is sent.
func WithCallToken(ctx context.Context, token string) context.Context {
	return context.WithValue(ctx, callTokenKey{}, token)
}

type callTokenKey struct{}

// pkiSettings are the TLS options given as PEM data or files.
type pkiSettings struct {
	roots     []byte
	rootsFile string
	rootsSet  bool
	cert, key []byte
	certFile  string
	keyFile   string
	certSet   bool
}

func (p pkiSettings) given() bool { return p.rootsSet || p.certSet }

// transportCredentials are the credentials New connects with: nil for
// plain text, else TLS from WithTLS's config with the roots and client
// certificate of the PEM options, or those of WithTransportCredentials.
func (s settings) transportCredentials() (credentials.TransportCredentials, error) {
	if !s.pki.given() {
		if s.tlsConfig != nil {
			return credentials.NewTLS(s.tlsConfig), nil
		}
		return s.creds, nil
	}
	if s.creds != nil {
		return nil, errors.New("WithTransportCredentials cannot be combined with WithTLSRoots or WithTLSClientCert (use WithTLS)")
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if s.tlsConfig != nil {
		cfg = s.tlsConfig.Clone()
	}
	if s.pki.rootsSet {
		pem, err := pemData(s.pki.roots, s.pki.rootsFile, "WithTLSRoots")
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("WithTLSRoots: %s holds no PEM certificate", describeSource(s.pki.rootsFile))
		}
		cfg.RootCAs = pool
	}
	if s.pki.certSet {
		certPEM, err := pemData(s.pki.cert, s.pki.certFile, "WithTLSClientCert (certificate)")
		if err != nil {
			return nil, err
		}
		keyPEM, err := pemData(s.pki.key, s.pki.keyFile, "WithTLSClientCert (key)")
		if err != nil {
			return nil, err
		}
		pair, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			what := "the certificate and the key given"
			if s.pki.certFile != "" {
				what = fmt.Sprintf("the certificate %s and the key %s", s.pki.certFile, s.pki.keyFile)
			}
			return nil, fmt.Errorf("WithTLSClientCert: %s do not load as a pair: %w", what, err)
		}
		cfg.Certificates = append(cfg.Certificates, pair)
	}
	return credentials.NewTLS(cfg), nil
}

// pemData is data, or the content of file when one is named; either must
// hold a PEM block.
func pemData(data []byte, file, option string) ([]byte, error) {
	if file != "" {
		read, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", option, err)
		}
		data = read
	}
	if !strings.Contains(string(data), "-----BEGIN ") {
		return nil, fmt.Errorf("%s: %s is not PEM (no -----BEGIN line)", option, describeSource(file))
	}
	return data, nil
}

func describeSource(file string) string {
	if file == "" {
		return "the data given"
	}
	return file
}

// checkToken says what is wrong with a token, or nil.
func checkToken(token string) error {
	if token == "" {
		return errors.New("a token must not be empty")
	}
	for _, r := range token {
		if r <= ' ' || r > '~' {
			return errors.New("a token must be printable ASCII without spaces")
		}
	}
	return nil
}

// withToken is ctx with the authorization header its call sends: the
// call's own token (WithCallToken) replacing any in the metadata, else an
// authorization header already in the metadata, else the client's token.
func withToken(ctx context.Context, clientToken string) (context.Context, error) {
	if token, ok := ctx.Value(callTokenKey{}).(string); ok {
		if err := checkToken(token); err != nil {
			return nil, fmt.Errorf("ophost: WithCallToken: %w", err)
		}
		md, _ := metadata.FromOutgoingContext(ctx) // a copy
		if md == nil {
			md = metadata.MD{}
		}
		md.Set(AuthorizationHeader, "Bearer "+token)
		return metadata.NewOutgoingContext(ctx, md), nil
	}
	if clientToken == "" {
		return ctx, nil
	}
	if md, ok := metadata.FromOutgoingContext(ctx); ok && len(md.Get(AuthorizationHeader)) > 0 {
		return ctx, nil
	}
	if err := checkToken(clientToken); err != nil {
		return nil, fmt.Errorf("ophost: WithToken: %w", err)
	}
	return metadata.AppendToOutgoingContext(ctx, AuthorizationHeader, "Bearer "+clientToken), nil
}
