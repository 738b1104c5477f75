// Package mutation proves the suites bite: it runs a suite against each
// deliberately broken reference SP (sp/mutants) and checks that a spec
// carrying the broken requirement's label fails.
package mutation

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/hmpconform/hmpconform/sp/mutants"
)

// Result is one mutant's run.
type Result struct {
	Mutant  mutants.Mutant
	Caught  bool     // a spec labelled Mutant.Breaks failed
	Failed  []string // specs that failed, with their labels
	Passed  int
	Err     error // the run itself could not be judged
	Command string
}

// BuildSuite compiles a suite package into a test binary in dir.
func BuildSuite(ctx context.Context, pkg, dir string) (string, error) {
	bin := filepath.Join(dir, filepath.Base(pkg)+".test")
	cmd := exec.CommandContext(ctx, "go", "test", "-c", "-o", bin, pkg)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build %s: %w\n%s", pkg, err, out)
	}
	return bin, nil
}

// Run runs the suite binary (from workDir) against mutant m, limited to the
// specs labelled with the requirement it breaks.
func Run(ctx context.Context, bin, workDir, reportDir string, m mutants.Mutant) Result {
	res := Result{Mutant: m}
	report := filepath.Join(reportDir, m.Name+".json")
	args := []string{"-ginkgo.label-filter=" + m.Breaks, "-ginkgo.json-report=" + report, "-ginkgo.no-color"}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = workDir
	cmd.Env = append(os.Environ(), "HMPCONFORM_SP_MUTANT="+m.Name,
		"HMPCONFORM_ARTIFACTS="+filepath.Join(reportDir, "artifacts-"+m.Name))
	res.Command = "HMPCONFORM_SP_MUTANT=" + m.Name + " " + bin + " " + strings.Join(args, " ")
	out, runErr := cmd.CombinedOutput()
	b, err := os.ReadFile(report)
	if err != nil {
		res.Err = fmt.Errorf("no report (%v): %w\n%s", runErr, err, tail(out))
		return res
	}
	var reports []types.Report
	if err := json.Unmarshal(b, &reports); err != nil || len(reports) == 0 {
		res.Err = fmt.Errorf("unreadable report: %v", err)
		return res
	}
	for _, r := range reports {
		if !r.SuiteSucceeded && r.SpecReports.CountWithState(types.SpecStateFailed) == 0 {
			// A suite-level failure (the environment did not start) proves nothing.
			for _, s := range r.SpecReports {
				if s.LeafNodeType != types.NodeTypeIt && s.State.Is(types.SpecStateFailureStates) {
					res.Err = fmt.Errorf("suite failed outside a spec: %s", s.Failure.Message)
				}
			}
		}
		for _, s := range r.SpecReports {
			if s.LeafNodeType != types.NodeTypeIt {
				continue
			}
			switch s.State {
			case types.SpecStatePassed:
				res.Passed++
			case types.SpecStateFailed:
				labels := s.Labels()
				res.Failed = append(res.Failed, fmt.Sprintf("%s %v", s.FullText(), labels))
				for _, l := range labels {
					if l == m.Breaks {
						res.Caught = true
					}
				}
			}
		}
	}
	return res
}

func tail(b []byte) string {
	s := string(b)
	if len(s) > 3000 {
		s = "…" + s[len(s)-3000:]
	}
	return s
}
