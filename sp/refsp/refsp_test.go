package refsp

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"testing"
)

func openTestSP(t *testing.T, dir string) (*App, error) {
	t.Helper()
	base, _ := url.Parse("https://hmp.sp.test")
	return Open(context.Background(), Options{
		DataDir: dir, BaseURL: base, AdminPassword: "a test password", Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
}

// Two SPs on one data directory would share one SQLite database and fight
// over it; the second is refused by name, and the directory is free again
// once the first closes.
func TestOpenRefusesADataDirInUse(t *testing.T) {
	dir := t.TempDir()
	first, err := openTestSP(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	second, err := openTestSP(t, dir)
	if err == nil {
		second.Close()
		t.Fatal("a second SP opened a data directory that the first still holds")
	}
	if !errors.Is(err, ErrDataDirInUse) {
		t.Fatalf("second open: %v, want ErrDataDirInUse", err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := openTestSP(t, dir)
	if err != nil {
		t.Fatalf("open after the first SP closed: %v", err)
	}
	again.Close()
}

// A failed open gives the data directory back.
func TestFailedOpenReleasesTheDataDir(t *testing.T) {
	dir := t.TempDir()
	// A directory where the database file should be makes the store fail.
	if err := os.Mkdir(filepath.Join(dir, "hmp.db"), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := openTestSP(t, dir); err == nil {
		t.Fatal("open with a directory for a database succeeded")
	}
	if err := os.Remove(filepath.Join(dir, "hmp.db")); err != nil {
		t.Fatal(err)
	}
	app, err := openTestSP(t, dir)
	if err != nil {
		t.Fatalf("open after a failed open: %v", err)
	}
	app.Close()
}

// flock needs no write access, so a lock file left read-only does not stop
// the SP (run as root, permissions do not bind: the case is checked only
// for other users).
func TestReadOnlyLockFileStillLocks(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root ignores file permissions")
	}
	dir := t.TempDir()
	lock := filepath.Join(dir, ".refsp.lock")
	if err := os.WriteFile(lock, nil, 0o400); err != nil {
		t.Fatal(err)
	}
	first, err := openTestSP(t, dir)
	if err != nil {
		t.Fatalf("open with a read-only lock file: %v", err)
	}
	defer first.Close()
	if second, err := openTestSP(t, dir); !errors.Is(err, ErrDataDirInUse) {
		if second != nil {
			second.Close()
		}
		t.Fatalf("second open: %v, want ErrDataDirInUse", err)
	}
}
