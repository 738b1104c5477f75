package keypair

import (
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
