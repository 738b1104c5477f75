// Command render writes a run's index.html from its ginkgo.json and the
// requirements catalogue, then points reports/latest at the run and copies
// its junit.xml and ginkgo.json to reports/. `make e2e` runs it after
// Ginkgo:
//
//	go run ./reports/cmd/render reports/20261203T162512Z
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/hmpconform/hmpconform/reports"
)

func main() {
	publish := flag.Bool("publish", true, "point <run>/../latest at the run and copy junit.xml and ginkgo.json next to it")
	version := flag.String("version", os.Getenv("HMPCONFORM_VERSION"), "harness version to show (default: git describe, else the module version, else dev)")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: render [-publish=false] [-version V] <run dir>")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	runDir := flag.Arg(0)
	if *version == "" {
		*version = harnessVersion()
	}
	p, err := reports.WriteRun(runDir, reports.Meta{Harness: *version})
	if err != nil {
		fmt.Fprintln(os.Stderr, "render:", err)
		os.Exit(1)
	}
	if p.NoReport != "" {
		// The page says so too; an unusable run is never published as latest.
		fmt.Fprintf(os.Stderr, "render: %s (page written to %s, not published)\n", p.NoReport, filepath.Join(runDir, reports.IndexFile))
		os.Exit(1)
	}
	if *publish {
		if err := reports.Publish(filepath.Dir(filepath.Clean(runDir)), runDir); err != nil {
			fmt.Fprintln(os.Stderr, "render: publish:", err)
			os.Exit(1)
		}
	}
	t := p.Totals
	fmt.Printf("report: %s — requirements %d pass, %d fail, %d skipped, %d not covered of %d; specs %d passed, %d failed, %d skipped\n",
		filepath.Join(runDir, reports.IndexFile), t.ReqPass, t.ReqFail, t.ReqSkipped, t.ReqNotCovered, t.Reqs, t.Passed, t.Failed, t.Skipped+t.Pending)
}

// harnessVersion is `git describe` of the checkout when git is there,
// else the version the binary was built as, else "dev".
func harnessVersion() string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "git", "describe", "--tags", "--always", "--dirty").Output(); err == nil {
		if v := strings.TrimSpace(string(out)); v != "" {
			return v
		}
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			return v
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				return s.Value[:12]
			}
		}
	}
	return "dev"
}
