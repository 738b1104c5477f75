package main

import (
	"errors"
	"fmt"
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
		args []string
		want string
	}{
		{[]string{"--listen", "127.0.0.1:29447"}, "https://127.0.0.1:29447"},
		{[]string{"--listen", ":9443"}, "https://localhost:9443"},
		{[]string{"--listen", "0.0.0.0:9443"}, "https://localhost:9443"},
		{[]string{"--listen", "[::]:9443"}, "https://localhost:9443"},
		{[]string{"--listen", "[::1]:9443"}, "https://[::1]:9443"},
		{[]string{"--listen", "idp.test:9443"}, "https://idp.test:9443"},
		{[]string{"--listen", "127.0.0.1:29447", "--base-url", "https://idp.example:443"}, "https://idp.example:443"},
	} {
		o, err := parseFlags(tc.args)
		if err != nil || o.baseURL != tc.want {
			t.Errorf("%q: base URL %q, %v; want %q", tc.args, o.baseURL, err, tc.want)
		}
	}
	if _, err := parseFlags([]string{"--listen", "nonsense"}); err == nil || !strings.Contains(err.Error(), "--listen") {
		t.Errorf("a bad --listen: %v", err)
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
