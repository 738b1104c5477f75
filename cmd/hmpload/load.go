package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// result is one bounded measurement.
type result struct {
	Name      string
	Requested int
	OK        int
	Errors    int
	FirstErr  error
	Elapsed   time.Duration   // wall time of the measured requests
	Latencies []time.Duration // of the successful requests
	Capped    bool            // the time cap stopped it before Requested
}

// Rate is successful requests per second of wall time.
func (r *result) Rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.OK) / r.Elapsed.Seconds()
}

// Percentile is the p-th percentile latency (nearest rank), 0 < p <= 100.
func (r *result) Percentile(p float64) time.Duration {
	if len(r.Latencies) == 0 {
		return 0
	}
	s := slices.Clone(r.Latencies)
	slices.Sort(s)
	rank := int(float64(len(s))*p/100+0.999999) - 1
	rank = max(0, min(rank, len(s)-1))
	return s[rank]
}

// merge adds another measurement of the same thing (elapsed times add up).
func (r *result) merge(o result) {
	r.Requested += o.Requested
	r.OK += o.OK
	r.Errors += o.Errors
	if r.FirstErr == nil {
		r.FirstErr = o.FirstErr
	}
	r.Elapsed += o.Elapsed
	r.Latencies = append(r.Latencies, o.Latencies...)
	r.Capped = r.Capped || o.Capped
}

func (r *result) String() string {
	s := fmt.Sprintf("%d/%d ok in %.2fs: %.1f/s, p50 %s, p95 %s, p99 %s, max %s",
		r.OK, r.Requested, r.Elapsed.Seconds(), r.Rate(), ms(r.Percentile(50)), ms(r.Percentile(95)), ms(r.Percentile(99)), ms(r.Percentile(100)))
	if r.Errors > 0 {
		s += fmt.Sprintf(", %d errors (first: %v)", r.Errors, r.FirstErr)
	}
	if r.Capped {
		s += ", stopped by the time cap"
	}
	return s
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond)) }

// drive runs do(i) for i in [0, n) on c workers until done or until the cap
// (measured from the start) passes.
func drive(ctx context.Context, name string, n, c int, capDur time.Duration, do func(ctx context.Context, i int) error) result {
	ctx, cancel := context.WithTimeout(ctx, capDur)
	defer cancel()
	res := result{Name: name, Requested: n}
	var next atomic.Int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	for range c {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				t0 := time.Now()
				err := do(ctx, i)
				d := time.Since(t0)
				if ctx.Err() != nil && err != nil {
					return // cut off by the cap: neither a success nor an error
				}
				mu.Lock()
				if err != nil {
					res.Errors++
					if res.FirstErr == nil {
						res.FirstErr = err
					}
				} else {
					res.OK++
					res.Latencies = append(res.Latencies, d)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	res.Capped = res.OK+res.Errors < n
	return res
}

// newClient is a keep-alive client for c concurrent workers that follows
// no redirects.
func newClient(c int) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = 2 * c
	tr.MaxIdleConnsPerHost = 2 * c
	return &http.Client{
		Transport:     tr,
		Timeout:       60 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// readBody reads and closes a response body.
func readBody(res *http.Response) ([]byte, error) {
	defer res.Body.Close()
	return io.ReadAll(res.Body)
}
