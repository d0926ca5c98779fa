package ophost

import (
	"crypto/tls"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"
)

// Defaults of the client's settings.
const (
	// DefaultReattachAttempts is how many times in a row a broken event
	// stream re-attaches before it gives up with a *StreamBrokenError.
	DefaultReattachAttempts = 5
	// DefaultReattachBackoff is the wait before the first re-attach attempt;
	// it doubles with each further attempt, up to MaxReattachBackoff.
	DefaultReattachBackoff = 200 * time.Millisecond
	// MaxReattachBackoff is the longest wait between two re-attach attempts.
	MaxReattachBackoff = 5 * time.Second
	// DefaultCallTimeout bounds every unary call, within the deadline of
	// its context (streams and WaitForReady have none).
	DefaultCallTimeout = 30 * time.Second
	// MaxReceiveMessageBytes is the largest message the client accepts. The
	// server keeps its messages below its own max_message_bytes (4 MiB by
	// default); this leaves room for servers configured higher.
	MaxReceiveMessageBytes = 64 << 20
)

// Keepalive of the connections New makes, matching the server's policy (it
// accepts pings every 10 s, also without calls in flight): ping every 30 s,
// even while a stream is idle because an op runs long without events, and
// drop a connection whose ping is not answered within 10 s.
var keepaliveParams = keepalive.ClientParameters{
	Time:                30 * time.Second,
	Timeout:             10 * time.Second,
	PermitWithoutStream: true,
}

// Option configures a Client made by New or NewClient.
type Option func(*settings)

type settings struct {
	creds            credentials.TransportCredentials
	tlsConfig        *tls.Config
	pki              pkiSettings
	token            string
	dialOptions      []grpc.DialOption
	reattachAttempts int
	reattachBackoff  time.Duration
	callTimeout      time.Duration
}

func newSettings(opts []Option) settings {
	s := settings{
		reattachAttempts: DefaultReattachAttempts,
		reattachBackoff:  DefaultReattachBackoff,
		callTimeout:      DefaultCallTimeout,
	}
	for _, opt := range opts {
		opt(&s)
	}
	return s
}

// WithTLS makes New's connection use TLS with cfg (nil: the system's CAs,
// no client certificate). Without it, WithTransportCredentials or one of
// the PEM options (WithTLSRoots, WithTLSClientCert and their File forms),
// New connects in plain text (insecure), which is what `ophost serve`
// speaks on 127.0.0.1. The PEM options add their roots and certificate to a
// copy of cfg. NewClient ignores it.
func WithTLS(cfg *tls.Config) Option {
	return func(s *settings) {
		if cfg == nil {
			cfg = &tls.Config{}
		}
		s.tlsConfig, s.creds = cfg, nil
	}
}

// WithTransportCredentials makes New's connection use creds, in place of
// WithTLS; it cannot be combined with the PEM options. NewClient ignores
// it.
func WithTransportCredentials(creds credentials.TransportCredentials) Option {
	return func(s *settings) { s.creds, s.tlsConfig = creds, nil }
}

// WithDialOptions adds gRPC dial options (interceptors, per-RPC credentials,
// ...) to those New uses; they are applied after the client's own, so they
// can override them. NewClient ignores them.
func WithDialOptions(opts ...grpc.DialOption) Option {
	return func(s *settings) { s.dialOptions = append(s.dialOptions, opts...) }
}

// WithReattach sets how a broken event stream re-attaches: up to attempts
// times in a row (0: never), waiting backoff before the first attempt and
// twice as long before each further one, at most MaxReattachBackoff.
func WithReattach(attempts int, backoff time.Duration) Option {
	return func(s *settings) {
		s.reattachAttempts = max(attempts, 0)
		s.reattachBackoff = max(backoff, 0)
	}
}

// WithCallTimeout sets the longest a unary call may take (0: no limit, so
// only the deadline of the caller's context bounds it). The shorter of the
// two applies. Event streams and WaitForReady never get a deadline from it.
func WithCallTimeout(d time.Duration) Option {
	return func(s *settings) { s.callTimeout = max(d, 0) }
}

// ExecOption configures one execution started by Execute or Call.
type ExecOption func(*execSettings)

type execSettings struct {
	config    any
	hasConfig bool
	tags      map[string]string
	requestID string
}

// WithConfig sends config as the op's config (any value the client can
// convert; nil sends a null config). Without it no config is sent and the
// schema's defaults apply.
func WithConfig(config any) ExecOption {
	return func(s *execSettings) { s.config, s.hasConfig = config, true }
}

// WithTags attaches tags to the execution.
func WithTags(tags map[string]string) ExecOption {
	return func(s *execSettings) { s.tags = tags }
}

// WithRequestID makes the start idempotent: while the server retains an
// execution started with the same id and the same op, inputs, config and
// tags, starting again returns that execution (and its events from the
// start) instead of running the op again. At most 128 characters.
func WithRequestID(id string) ExecOption {
	return func(s *execSettings) { s.requestID = id }
}
