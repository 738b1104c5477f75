//go:build linux

package samlsso_test

import (
	"syscall"
	"time"
)

// threadCPU is the CPU time of the calling OS thread (getrusage
// RUSAGE_THREAD); lock the goroutine to its thread around the measurement.
func threadCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
