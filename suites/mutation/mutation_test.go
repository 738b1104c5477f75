package mutation

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hmpconform/hmpconform/sp/mutants"
)

// TestSuitesCatchEveryMutant runs the JIT suite against each broken rule
// set and fails unless a spec of the broken requirement fails. It starts
// real browsers and servers, so `go test -short` skips it.
func TestSuitesCatchEveryMutant(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser suite per mutant")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	dir := t.TempDir()
	bin, err := BuildSuite(ctx, "github.com/hmpconform/hmpconform/suites/jit", dir)
	if err != nil {
		t.Fatal(err)
	}
	suiteDir, _ := filepath.Abs("../jit")
	reportDir := filepath.Join(dir, "reports")
	if err := os.MkdirAll(reportDir, 0o755); err != nil {
		t.Fatal(err)
	}
	all := mutants.All()
	caught := 0
	for _, m := range all {
		t.Run(m.Name, func(t *testing.T) {
			res := Run(ctx, bin, suiteDir, reportDir, m)
			if res.Err != nil {
				t.Fatalf("%s: %v\n(command: %s)", m.Name, res.Err, res.Command)
			}
			if !res.Caught {
				t.Fatalf("mutant %q (%s) was not caught: no spec labelled %s failed; failed: %v, passed: %d",
					m.Name, m.Description, m.Breaks, res.Failed, res.Passed)
			}
			caught++
			t.Logf("caught %q (%s) by: %v", m.Name, m.Breaks, res.Failed)
		})
	}
	fmt.Printf("mutants: %d caught of %d\n", caught, len(all))
}
