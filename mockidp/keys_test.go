package mockidp

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A key pair with one file missing is not a first start: the IdP refuses
// rather than replacing the file left.
func TestKeyPairHalfMissingIsRefused(t *testing.T) {
	for _, tc := range []struct {
		name             string
		load             func(dir string) error
		keyName, crtName string
	}{
		{"current", func(dir string) error { _, _, err := LoadOrCreateKeyPair(dir, time.Now(), "idp"); return err }, keyFile, certFile},
		{"next", func(dir string) error { _, _, err := LoadOrCreateNextKeyPair(dir, time.Now(), "idp"); return err }, nextKeyFile, nextCertFile},
	} {
		for _, gone := range []string{tc.keyName, tc.crtName} {
			t.Run(tc.name+" without "+gone, func(t *testing.T) {
				dir := t.TempDir()
				if err := tc.load(dir); err != nil {
					t.Fatal(err)
				}
				left := tc.keyName
				if gone == tc.keyName {
					left = tc.crtName
				}
				before, err := os.ReadFile(filepath.Join(dir, left))
				if err != nil {
					t.Fatal(err)
				}
				if err := os.Remove(filepath.Join(dir, gone)); err != nil {
					t.Fatal(err)
				}
				err = tc.load(dir)
				if err == nil || !strings.Contains(err.Error(), gone+" is missing") {
					t.Fatalf("error %v, want one saying %s is missing", err, gone)
				}
				after, _ := os.ReadFile(filepath.Join(dir, left))
				if !bytes.Equal(before, after) {
					t.Errorf("%s was rewritten", left)
				}
				if _, err := os.Stat(filepath.Join(dir, gone)); err == nil {
					t.Errorf("%s was recreated", gone)
				}
			})
		}
	}
}
