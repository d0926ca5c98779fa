package ophost

import (
	"context"
	"slices"
	"testing"

	"google.golang.org/grpc/metadata"
)

func authorization(t *testing.T, ctx context.Context, clientToken string) []string {
	t.Helper()
	out, err := withToken(ctx, clientToken)
	if err != nil {
		t.Fatal(err)
	}
	md, _ := metadata.FromOutgoingContext(out)
	return md.Get(AuthorizationHeader)
}

func TestExactlyOneAuthorizationHeaderIsSent(t *testing.T) {
	background := context.Background()
	withHeader := metadata.AppendToOutgoingContext(background, "authorization", "Bearer header", "x-other", "1")
	cases := []struct {
		name        string
		ctx         context.Context
		clientToken string
		want        []string
	}{
		{"no token at all", background, "", nil},
		{"the client's token", background, "client", []string{"Bearer client"}},
		{"the call's token", WithCallToken(background, "call"), "client", []string{"Bearer call"}},
		{"the call's token, no client token", WithCallToken(background, "call"), "", []string{"Bearer call"}},
		{"a header in the metadata", withHeader, "client", []string{"Bearer header"}},
		{"the call's token over a header", WithCallToken(withHeader, "call"), "client", []string{"Bearer call"}},
		{"the innermost call token", WithCallToken(WithCallToken(background, "outer"), "inner"), "client", []string{"Bearer inner"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := authorization(t, c.ctx, c.clientToken); !slices.Equal(got, c.want) {
				t.Errorf("authorization = %q, want %q", got, c.want)
			}
		})
	}
	// Other metadata is kept when the call's token replaces a header.
	out, err := withToken(WithCallToken(withHeader, "call"), "")
	if err != nil {
		t.Fatal(err)
	}
	md, _ := metadata.FromOutgoingContext(out)
	if got := md.Get("x-other"); !slices.Equal(got, []string{"1"}) {
		t.Errorf("x-other = %q, want [1]", got)
	}
	// The caller's context is not changed.
	md, _ = metadata.FromOutgoingContext(withHeader)
	if got := md.Get(AuthorizationHeader); !slices.Equal(got, []string{"Bearer header"}) {
		t.Errorf("the caller's metadata changed: %q", got)
	}
}

func TestABadCallTokenIsAnError(t *testing.T) {
	for _, token := range []string{"", "a b", "tab\there", "é"} {
		if _, err := withToken(WithCallToken(context.Background(), token), "client"); err == nil {
			t.Errorf("withToken accepted the call token %q", token)
		}
	}
}
