//go:build unix

package keypair

import (
	"fmt"
	"os"
	"syscall"
)

// LockDir takes an exclusive lock on the lock file .<name>.lock in dir
// (made if need be), so that processes sharing a key directory (parallel
// suite processes with a target profile's fixed IdP key directory, two
// runs on one data directory) make one pair between them instead of racing
// to write it. The returned func releases it; so does the process's exit.
func LockDir(dir, name string) (func(), error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	path := dir + string(os.PathSeparator) + "." + name + ".lock"
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
