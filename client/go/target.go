package ophost

import (
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"
)

// roundRobinServiceConfig is the default service config of a connection to
// several servers: every call goes to the next connected one. A service
// config the resolver returns (from DNS TXT records, say) takes precedence.
const roundRobinServiceConfig = `{"loadBalancingConfig":[{"round_robin":{}}]}`

// addressListScheme is the scheme of the resolver New hands the connection
// for a list of addresses. The resolver is local to that connection
// (grpc.WithResolvers), so nothing is registered globally.
const addressListScheme = "ophost-addresses"

// A scheme and a colon start a target URI; "localhost:50051" would match too,
// so a "scheme" followed by nothing but a port is an address.
var (
	targetScheme = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9+.-]*):(.*)$`)
	portOnly     = regexp.MustCompile(`^\d+(,|$)`)
)

// dialTarget turns the target given to New into the one for grpc.NewClient,
// with the dial options it needs:
//
//   - several comma-separated addresses, or an "ipv4:" or "ipv6:" URI listing
//     them (the form gRPC's C core and Python use), become a static list of
//     backends, balanced round robin;
//   - a "dns:" URI is used as given, balanced round robin over every address
//     the name has;
//   - anything else, one "host:port" address included, is used as given.
func dialTarget(target string) (string, []grpc.DialOption, error) {
	scheme, rest := splitScheme(target)
	switch {
	case scheme == "ipv4" || scheme == "ipv6":
		return addressList(target, rest)
	case scheme == "dns":
		return target, []grpc.DialOption{grpc.WithDefaultServiceConfig(roundRobinServiceConfig)}, nil
	case scheme == "" && strings.Contains(target, ","):
		return addressList(target, target)
	}
	return target, nil, nil
}

// splitScheme returns the lowercased scheme of a target URI and what follows
// its colon, or "" and the target for an address.
func splitScheme(target string) (scheme, rest string) {
	match := targetScheme.FindStringSubmatch(target)
	if match == nil || portOnly.MatchString(match[2]) {
		return "", target
	}
	return strings.ToLower(match[1]), match[2]
}

// addressList makes the resolver of a static list of "host:port" addresses
// and the target that selects it. Names in the list are resolved when a
// connection to them is made (and again on every reconnect), as for a single
// address. Each address is also its own server name, so TLS checks every
// server against its own name.
func addressList(target, list string) (string, []grpc.DialOption, error) {
	var endpoints []resolver.Endpoint
	var addrs []string
	for _, part := range strings.Split(list, ",") {
		addr := strings.TrimSpace(part)
		host, port, err := net.SplitHostPort(addr)
		if n, perr := strconv.Atoi(port); err != nil || host == "" || perr != nil || n <= 0 || n > 65535 {
			return "", nil, fmt.Errorf("the target %q: each address must be host:port, got %q", target, addr)
		}
		endpoints = append(endpoints, resolver.Endpoint{Addresses: []resolver.Address{{Addr: addr, ServerName: addr}}})
		addrs = append(addrs, addr)
	}
	r := manual.NewBuilderWithScheme(addressListScheme)
	r.InitialState(resolver.State{Endpoints: endpoints})
	return addressListScheme + ":///" + strings.Join(addrs, ","), []grpc.DialOption{
		grpc.WithResolvers(r),
		grpc.WithDefaultServiceConfig(roundRobinServiceConfig),
	}, nil
}
