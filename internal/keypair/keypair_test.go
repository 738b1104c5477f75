package keypair

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestLoadOrCreateKeepsThePair(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	a, err := LoadOrCreate(dir, "sp", "test", now)
	if err != nil {
		t.Fatal(err)
	}
	b, err := LoadOrCreate(dir, "sp", "test", now)
	if err != nil {
		t.Fatal(err)
	}
	if !a.Key.Equal(b.Key) || !a.Certificate.Equal(b.Certificate) {
		t.Fatal("second start made a new key pair")
	}
	if a.Certificate.NotAfter.Before(now.AddDate(9, 0, 0)) {
		t.Fatalf("certificate expires too soon: %v", a.Certificate.NotAfter)
	}
}

func TestParseRefusesMismatchedPair(t *testing.T) {
	now := time.Now()
	a, _ := New(nil, "a", now)
	b, _ := New(nil, "b", now)
	ka, _ := a.PEM()
	_, cb := b.PEM()
	if _, err := Parse(ka, cb); err == nil {
		t.Fatal("a key with another key's certificate was accepted")
	}
	if _, err := Parse([]byte("junk"), cb); err == nil {
		t.Fatal("junk key accepted")
	}
}

// One file of a pair deleted is not a first start: the other must stay as
// it is (a new pair would change the certificate the other side trusts),
// and the error names the missing file and says what to do.
func TestLoadOrCreateRefusesHalfAPair(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, gone := range []string{"sp-key.pem", "sp-cert.pem"} {
		t.Run(gone, func(t *testing.T) {
			dir := t.TempDir()
			if _, err := LoadOrCreate(dir, "sp", "test", now); err != nil {
				t.Fatal(err)
			}
			kept := "sp-cert.pem"
			if gone == kept {
				kept = "sp-key.pem"
			}
			before, err := os.ReadFile(filepath.Join(dir, kept))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Remove(filepath.Join(dir, gone)); err != nil {
				t.Fatal(err)
			}
			_, err = LoadOrCreate(dir, "sp", "test", now)
			if err == nil {
				t.Fatalf("%s deleted: a new pair was made", gone)
			}
			for _, want := range []string{filepath.Join(dir, gone) + " is missing", "left as it was", "restore " + gone, "delete " + kept + " too"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
			after, err := os.ReadFile(filepath.Join(dir, kept))
			if err != nil || !bytes.Equal(before, after) {
				t.Errorf("%s was changed (%v)", kept, err)
			}
			if _, err := os.Stat(filepath.Join(dir, gone)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s was written again (%v)", gone, err)
			}
			// Deleting both is a first start again.
			if err := os.Remove(filepath.Join(dir, kept)); err != nil {
				t.Fatal(err)
			}
			if _, err := LoadOrCreate(dir, "sp", "test", now); err != nil {
				t.Fatalf("both deleted: %v", err)
			}
		})
	}
}

// An empty or damaged file is an error naming it, and is left as it is.
func TestLoadOrCreateNamesADamagedFile(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	other, err := New(nil, "other", now)
	if err != nil {
		t.Fatal(err)
	}
	_, otherCert := other.PEM()
	for _, c := range []struct {
		file, content string
	}{{"sp-key.pem", ""}, {"sp-key.pem", "junk"}, {"sp-cert.pem", ""}, {"sp-cert.pem", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"}, {"sp-cert.pem", string(otherCert)}} {
		dir := t.TempDir()
		if _, err := LoadOrCreate(dir, "sp", "test", now); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, c.file)
		if err := os.WriteFile(path, []byte(c.content), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := LoadOrCreate(dir, "sp", "test", now)
		if err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("%s holding %.20q: error %v does not name it", c.file, c.content, err)
		}
		if b, _ := os.ReadFile(path); string(b) != c.content {
			t.Errorf("%s was rewritten", c.file)
		}
	}
}

// TestLoadOrCreateAtOnceMakesOnePair: processes that share a key directory
// (a target profile's fixed IdP keys, two Ginkgo processes) start at the
// same moment; all must get the same pair, none an error.
func TestLoadOrCreateAtOnceMakesOnePair(t *testing.T) {
	dir := t.TempDir()
	const n = 6
	pairs := make([]Pair, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pairs[i], errs[i] = LoadOrCreate(dir, "idp", "test", time.Now())
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("caller %d: %v", i, errs[i])
		}
		if !pairs[i].Certificate.Equal(pairs[0].Certificate) {
			t.Fatalf("caller %d got another certificate than caller 0", i)
		}
	}
}

// TestLoadOrCreateReadsAFullPairWithoutWriting: a full pair loads without
// the lock file, so a read-only key directory keeps working.
func TestLoadOrCreateReadsAFullPairWithoutWriting(t *testing.T) {
	dir := t.TempDir()
	first, err := LoadOrCreate(dir, "idp", "test", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	lock := filepath.Join(dir, ".idp.lock")
	if err := os.Remove(lock); err != nil {
		t.Fatal(err)
	}
	again, err := LoadOrCreate(dir, "idp", "test", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if !again.Certificate.Equal(first.Certificate) {
		t.Fatal("a second start made another pair")
	}
	if _, err := os.Stat(lock); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("loading a full pair wrote %s (stat: %v)", lock, err)
	}
}
