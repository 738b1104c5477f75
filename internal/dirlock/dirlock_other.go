//go:build !unix

// Package dirlock takes locks on directories shared between processes;
// where flock is not available its locks are no-ops, and processes sharing
// a directory there must not start at the same moment.
package dirlock

import "errors"

// ErrLocked is TryLock's error when another holder has the lock.
var ErrLocked = errors.New("locked by another process")

// Lock is a no-op here.
func Lock(dir, name string) (func(), error) { return func() {}, nil }

// TryLock is a no-op here.
func TryLock(dir, name string) (func(), error) { return func() {}, nil }
