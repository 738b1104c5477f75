package framework

import (
	"context"
	"fmt"
	"os"
	"sort"
	"testing"
	"time"

	"github.com/hmpconform/hmpconform/suites/framework/browser"
)

// BenchmarkBrowserLoginRoundTrip measures one person's sign-in in headless
// Chromium, SP-initiated, two sites over TLS, ending back on the SP signed
// in. "session": the IdP knows the person (an IdP session, as the suites
// sign in with steps off), so the round trip is the SAML one: SP, IdP,
// ACS, SP. "form": the person lands on the mock IdP's form and submits it
// (as with steps on). It reports the median and p90 of the round trips,
// and Chromium's CPU time per login (the tab's opening and closing
// included), which unlike wall time does not grow with the neighbours'
// load. Needs Chromium; not part of tests.
func BenchmarkBrowserLoginRoundTrip(b *testing.B) {
	if _, err := os.Stat(browser.ResolveExecPath("")); err != nil {
		b.Skip("no Chromium")
	}
	b.Run("session", func(b *testing.B) {
		b.Setenv(RenderEnv, "")
		b.Setenv(StepsEnv, "off")
		benchLogins(b)
	})
	b.Run("form", func(b *testing.B) {
		b.Setenv(RenderEnv, "all")
		benchLogins(b)
	})
}

func benchLogins(b *testing.B) {
	env, err := Start(context.Background(), Options{Tag: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	defer env.Close()
	var took []time.Duration
	cpu0, cpuErr := env.Browser.CPUTime()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		u, err := env.NewUser(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		id := fmt.Sprintf("%s@example.com", env.Unique("bench"))
		start := time.Now()
		out, err := u.SignInViaSP(Login{Username: id, Groups: []string{"Engineering"}})
		took = append(took, time.Since(start))
		u.Close()
		if err != nil || !out.SignedIn {
			b.Fatalf("login %d: %v %+v", i, err, out)
		}
	}
	b.StopTimer()
	if cpu1, err := env.Browser.CPUTime(); cpuErr == nil && err == nil {
		b.ReportMetric(float64((cpu1-cpu0).Milliseconds())/float64(b.N), "browser-cpu-ms/login")
	}
	sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
	b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "median-ms")
	b.ReportMetric(float64(took[len(took)*9/10].Microseconds())/1000, "p90-ms")
}
