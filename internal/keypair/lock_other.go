//go:build !unix

package keypair

// lockDir is a no-op where flock is not available: processes sharing a
// key directory there must not start at the same moment.
func lockDir(dir, prefix string) (func(), error) { return func() {}, nil }
