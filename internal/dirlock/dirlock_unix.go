//go:build unix

// Package dirlock takes locks on directories shared between processes: a
// flock on a lock file .<name>.lock in the directory, released when the
// holder calls the returned func or exits (a killed process leaves nothing
// to clean up).
package dirlock

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// ErrLocked is TryLock's error when another holder has the lock.
var ErrLocked = errors.New("locked by another process")

// Lock waits for the exclusive lock name on dir (made if need be): for
// processes that must take turns, such as several making one key pair.
func Lock(dir, name string) (func(), error) { return lock(dir, name, syscall.LOCK_EX) }

// TryLock takes the exclusive lock name on dir, or fails at once with an
// error wrapping ErrLocked while another process holds it: for what one
// process at a time may own.
func TryLock(dir, name string) (func(), error) {
	return lock(dir, name, syscall.LOCK_EX|syscall.LOCK_NB)
}

func lock(dir, name string, how int) (func(), error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	path := filepath.Join(dir, "."+name+".lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if errors.Is(err, fs.ErrPermission) {
		// flock needs no write access: a lock file left read-only (or
		// another user's) still serves.
		f, err = os.Open(path)
	}
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), how); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%s: %w", path, ErrLocked)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() { f.Close() }, nil // closing the file releases the lock
}
