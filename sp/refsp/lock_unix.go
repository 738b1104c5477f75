//go:build unix

package refsp

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// lockDataDir takes the data directory for this SP alone: two SPs on one
// SQLite database would each think they own the sessions and the haiadmin
// password, and the second met SQLITE_BUSY mid-start. The lock is a flock
// on DataDir/.refsp.lock, so a killed SP leaves nothing to clean up.
func lockDataDir(dir string) (release func(), err error) {
	path := filepath.Join(dir, ".refsp.lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if errors.Is(err, fs.ErrPermission) {
		// flock needs no write access: a lock file left read-only (or
		// another user's) still serves.
		f, err = os.Open(path)
	}
	if err != nil {
		return nil, fmt.Errorf("lock data dir: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s is used by another running reference SP (hmpconform run, refsp or a suite); stop it, or give this one another data directory", ErrDataDirInUse, dir)
		}
		return nil, fmt.Errorf("lock data dir %s: %w", path, err)
	}
	return func() { f.Close() }, nil // closing the file releases the lock
}
