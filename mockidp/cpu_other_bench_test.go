//go:build !unix

package mockidp_test

import "time"

// processCPU is not measured here: the CPU-time figures are left out.
func processCPU() time.Duration { return 0 }
