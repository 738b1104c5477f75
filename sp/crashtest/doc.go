// Package crashtest holds the reference SP's crash-consistency test: the
// refsp binary is killed with SIGKILL while it accepts JIT logins, then
// restarted on the same data directory, and every login it answered with
// success must have its account, with its groups. See crash_test.go.
package crashtest
