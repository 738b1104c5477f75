//go:build !unix

package refsp

// lockDataDir is a no-op where flock is not available: two SPs must not
// be started on one data directory there.
func lockDataDir(string) (func(), error) { return func() {}, nil }
