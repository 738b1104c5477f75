//go:build !unix

package keypair

// LockDir is a no-op where flock is not available: processes sharing a
// key directory there must not start at the same moment.
func LockDir(dir, name string) (func(), error) { return func() {}, nil }
