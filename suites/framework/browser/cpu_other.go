//go:build !linux

package browser

import (
	"errors"
	"time"
)

// CPUTime is available on Linux only (it reads /proc).
func (b *Browser) CPUTime() (time.Duration, error) {
	return 0, errors.New("browser cpu time: only on Linux")
}
