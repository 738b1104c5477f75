package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"strings"
	"testing"
)

// `hmpconform run` (make run) takes --sp-flavour and MOCKIDP_SP_FLAVOUR
// as the standalone mockidp binary does: before, it had neither.
func TestRunTakesSPFlavour(t *testing.T) {
	t.Setenv("MOCKIDP_SP_FLAVOUR", "")
	o, err := parseRunFlags([]string{"--sp-flavour", "https://localhost:8443/saml/metadata=Entra", "--sp-flavour", "urn:x=keycloak"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if o.spFlavours["https://localhost:8443/saml/metadata"] != "entra" || o.spFlavours["urn:x"] != "keycloak" || len(o.spFlavours) != 2 {
		t.Errorf("parsed %v", o.spFlavours)
	}
	for _, bad := range []string{"urn:x=ping", "urn:x= ", "=okta"} {
		if _, err := parseRunFlags([]string{"--sp-flavour", bad}, &bytes.Buffer{}); err == nil {
			t.Errorf("--sp-flavour %q accepted", bad)
		}
	}

	t.Setenv("MOCKIDP_SP_FLAVOUR", "https://localhost:8443/saml/metadata=okta, urn:x=adfs")
	if o, err = parseRunFlags(nil, &bytes.Buffer{}); err != nil || o.spFlavours["https://localhost:8443/saml/metadata"] != "okta" || o.spFlavours["urn:x"] != "adfs" || len(o.spFlavours) != 2 {
		t.Errorf("from the environment: %v %v", o.spFlavours, err)
	}
	if o, err = parseRunFlags([]string{"--sp-flavour", "urn:y=google"}, &bytes.Buffer{}); err != nil || len(o.spFlavours) != 1 || o.spFlavours["urn:y"] != "google" {
		t.Errorf("the flag should win over the environment: %v %v", o.spFlavours, err)
	}
	for _, bad := range []string{"urn:x=ping", "a= "} {
		t.Setenv("MOCKIDP_SP_FLAVOUR", bad)
		if _, err := parseRunFlags(nil, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "MOCKIDP_SP_FLAVOUR") {
			t.Errorf("MOCKIDP_SP_FLAVOUR=%q: %v", bad, err)
		}
	}

	var help bytes.Buffer
	if _, err := parseRunFlags([]string{"--help"}, &help); !errors.Is(err, flag.ErrHelp) || !strings.Contains(help.String(), "-sp-flavour") || !strings.Contains(help.String(), "MOCKIDP_SP_FLAVOUR") {
		t.Errorf("run --help (%v) does not list --sp-flavour:\n%s", err, help.String())
	}
}

// Through the command itself: `hmpconform run --help` lists the flag, and
// a bad value stops it before anything starts.
func TestRunCommandSPFlavour(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if err := run([]string{"run", "--help"}, &stdout, &stderr); !errors.Is(err, flag.ErrHelp) || !strings.Contains(stderr.String(), "-sp-flavour") {
		t.Errorf("run --help (%v) does not list --sp-flavour:\n%s", err, stderr.String())
	}
	stderr.Reset()
	err := run([]string{"run", "--sp-flavour", "urn:x=ping"}, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), `unknown IdP flavour "ping"`) {
		t.Errorf("run --sp-flavour urn:x=ping: %v", err)
	}
}

// The stack's warnings (kept SP settings that trust another IdP) are in
// the banner; none, no line.
func TestWarningLines(t *testing.T) {
	if got := warningLines(nil); got != "" {
		t.Errorf("no warnings: %q", got)
	}
	if got := warningLines([]string{"the SP trusts https://a.test/sso"}); !strings.Contains(got, "WARNING: the SP trusts https://a.test/sso") {
		t.Errorf("banner lines %q", got)
	}
}

// A bad flag is printed once: by the flag set, with the usage, not again
// by main. An error the flag set did not print (MOCKIDP_SP_FLAVOUR) is
// printed by main, once.
func TestBadFlagPrintedOnce(t *testing.T) {
	t.Setenv("MOCKIDP_SP_FLAVOUR", "")
	for _, args := range [][]string{{"run", "--sp-flavour", "x= "}, {"run", "--no-such-flag"}} {
		var stdout, stderr bytes.Buffer
		err := run(args, &stdout, &stderr)
		if code := exitCode(err, &stderr); code != 2 {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
		if err == nil || strings.Count(stderr.String(), err.Error()) != 1 {
			t.Errorf("%q: error %v printed %d times:\n%s", args, err, strings.Count(stderr.String(), fmt.Sprint(err)), stderr.String())
		}
	}
	t.Setenv("MOCKIDP_SP_FLAVOUR", "a= ")
	var stdout, stderr bytes.Buffer
	err := run([]string{"run"}, &stdout, &stderr)
	if code := exitCode(err, &stderr); code != 2 || err == nil || strings.Count(stderr.String(), err.Error()) != 1 {
		t.Errorf("MOCKIDP_SP_FLAVOUR=%q: exit %d, error %v, stderr:\n%s", "a= ", code, err, stderr.String())
	}
	if exitCode(flag.ErrHelp, &stderr) != 0 || exitCode(nil, &stderr) != 0 {
		t.Error("help or success is not exit 0")
	}
}

// A word before the flags would end flag parsing and the run would use
// ./data and the default ports without a word: it is refused instead.
func TestRunRefusesStrayArguments(t *testing.T) {
	_, err := parseRunFlags([]string{"extra", "--data-dir", "/tmp/x"}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), `"extra"`) {
		t.Fatalf("run extra --data-dir ...: %v, want an error naming the stray word", err)
	}
}
