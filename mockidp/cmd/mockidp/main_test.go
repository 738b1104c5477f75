package main

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
)

// A boolean variable that is not a boolean stops the start, naming the
// variable and the accepted values, instead of reading as false.
func TestBadBooleanEnvironmentIsRefused(t *testing.T) {
	for _, name := range []string{"TRUST_ANY_SP", "ROLLOVER", "DEBUG", "SP_METADATA_INSECURE"} {
		t.Run(name, func(t *testing.T) {
			for _, v := range []string{"yes", "maybe", "on"} {
				t.Setenv("MOCKIDP_"+name, v)
				_, err := parseFlags(nil)
				if err == nil || !strings.Contains(err.Error(), "MOCKIDP_"+name+`="`+v+`"`) || !strings.Contains(err.Error(), "true or false") {
					t.Errorf("MOCKIDP_%s=%s: %v", name, v, err)
				}
			}
			for v, want := range map[string]bool{"": false, "1": true, "false": false, "TRUE": true} {
				t.Setenv("MOCKIDP_"+name, v)
				if _, err := parseFlags(nil); err != nil {
					t.Errorf("MOCKIDP_%s=%q: %v", name, v, err)
				}
				got, err := envBool(name)
				if err != nil || got != want {
					t.Errorf("envBool with %q: %v %v", v, got, err)
				}
			}
		})
	}
}

func TestBaseURLDefaultsToListen(t *testing.T) {
	t.Setenv("MOCKIDP_BASE_URL", "")
	t.Setenv("MOCKIDP_LISTEN", "")
	for _, tc := range []struct {
		listen string
		port   int // the port bound
		want   string
	}{
		{"127.0.0.1:29447", 29447, "https://127.0.0.1:29447"},
		{":9443", 9443, "https://localhost:9443"},
		{"0.0.0.0:9443", 9443, "https://localhost:9443"},
		{"[::]:9443", 9443, "https://localhost:9443"},
		{"[::1]:9443", 9443, "https://[::1]:9443"},
		{"idp.test:9443", 9443, "https://idp.test:9443"},
		{"127.0.0.1:0", 40123, "https://127.0.0.1:40123"},
		{"127.0.0.1:http", 80, "https://127.0.0.1:80"},
	} {
		if got := defaultBaseURL(tc.listen, &net.TCPAddr{IP: net.IPv6loopback, Port: tc.port}); got != tc.want {
			t.Errorf("--listen %q bound to port %d: base URL %q, want %q", tc.listen, tc.port, got, tc.want)
		}
		o, err := parseFlags([]string{"--listen", tc.listen})
		if err != nil || o.baseURL != "" {
			t.Errorf("--listen %q: %v, base URL %q", tc.listen, err, o.baseURL)
		}
	}
	if _, err := parseFlags([]string{"--listen", "nonsense"}); err == nil || !strings.Contains(err.Error(), "--listen") {
		t.Errorf("a bad --listen: %v", err)
	}
}

// --listen 127.0.0.1:0 is bound before the base URL is derived, so the
// metadata names the real port, not 0.
func TestListenPortZeroPublishesTheBoundPort(t *testing.T) {
	ln, base, err := listen(options{listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	if base.Port() != port || base.Port() == "0" || base.Hostname() != "127.0.0.1" || base.Scheme != "https" {
		t.Errorf("base URL %s, bound to %s", base, ln.Addr())
	}
	ln2, base, err := listen(options{listen: "127.0.0.1:0", baseURL: "https://idp.example:443"})
	if err != nil || base.String() != "https://idp.example:443" {
		t.Errorf("--base-url given: %v %v", base, err)
	} else {
		ln2.Close()
	}
	if _, _, err := listen(options{listen: "127.0.0.1:0", baseURL: "/relative"}); err == nil || !strings.Contains(err.Error(), "--base-url") {
		t.Errorf("a relative --base-url: %v", err)
	}
}

func TestErrorMessageNamesMockidpOnce(t *testing.T) {
	for err, want := range map[error]string{
		errors.New("mockidp: persona \"x\": bad"):                                         "mockidp: persona \"x\": bad",
		fmt.Errorf("signing key pair: %w", errors.New("mockidp: idp-key.pem is missing")): "mockidp: signing key pair: idp-key.pem is missing",
		errors.New("--tls-cert and --tls-key go together"):                                "mockidp: --tls-cert and --tls-key go together",
	} {
		if got := errorMessage(err); got != want {
			t.Errorf("%q, want %q", got, want)
		}
	}
}
