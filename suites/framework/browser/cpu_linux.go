//go:build linux

package browser

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/chromedp/chromedp"
)

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat times on Linux.
const clockTicks = 100

// CPUTime is the CPU time Chromium has used so far: its browser process
// and every process under it (renderers, GPU, network service), including
// the children that already exited. Benchmarks report it because, unlike
// wall time, it does not grow when neighbours load the machine.
func (b *Browser) CPUTime() (time.Duration, error) {
	c := chromedp.FromContext(b.ctx)
	if c == nil || c.Browser == nil || c.Browser.Process() == nil {
		return 0, fmt.Errorf("browser cpu time: no browser process")
	}
	root := c.Browser.Process().Pid
	parents := map[int]int{}
	ticks := map[int]int64{}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, fmt.Errorf("browser cpu time: %w", err)
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		ppid, t, ok := readStat(pid)
		if ok {
			parents[pid], ticks[pid] = ppid, t
		}
	}
	var total int64
	for pid, t := range ticks {
		for p, depth := pid, 0; p > 1 && depth < 16; p, depth = parents[p], depth+1 {
			if p == root {
				total += t
				break
			}
		}
	}
	return time.Duration(total) * time.Second / clockTicks, nil
}

// readStat returns a process's parent and its CPU ticks: its own user and
// system time and those of its children that it has reaped.
func readStat(pid int) (ppid int, ticks int64, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')') // the command name may hold spaces
	if i < 0 {
		return 0, 0, false
	}
	// After the name, 0-based: state(0) ppid(1) ... utime(11) stime(12)
	// cutime(13) cstime(14); proc(5) numbers them 3, 4, 14 to 17.
	f := strings.Fields(s[i+1:])
	if len(f) < 15 {
		return 0, 0, false
	}
	ppid, _ = strconv.Atoi(f[1])
	for _, k := range []int{11, 12, 13, 14} {
		v, _ := strconv.ParseInt(f[k], 10, 64)
		ticks += v
	}
	return ppid, ticks, true
}
