package framework

import (
	"fmt"
	"sort"
	"strings"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/hmpconform/hmpconform/fixtures"
)

// LabelCheck is the outcome of comparing a run's labels with the
// requirements catalogue.
type LabelCheck struct {
	Unknown   []string // requirement-shaped labels not in the catalogue
	Uncovered []string // catalogue IDs no spec in the run carries
}

// CheckLabels compares every spec's labels with the catalogue. Labels that
// look like requirement IDs (upper case, dashes) must be catalogue IDs;
// lower-case labels (mockidp, interop, ...) are free tags.
func CheckLabels(specs types.SpecReports, catalogue []fixtures.Requirement) LabelCheck {
	known := map[string]bool{}
	for _, r := range catalogue {
		known[r.ID] = true
	}
	used := map[string]bool{}
	unknown := map[string]bool{}
	for _, s := range specs {
		if s.LeafNodeType != types.NodeTypeIt {
			continue
		}
		for _, l := range s.Labels() {
			switch {
			case known[l]:
				used[l] = true
			case fixtures.RequirementIDPattern.MatchString(l):
				unknown[l] = true
			}
		}
	}
	var c LabelCheck
	for l := range unknown {
		c.Unknown = append(c.Unknown, l)
	}
	for _, r := range catalogue {
		if !used[r.ID] {
			c.Uncovered = append(c.Uncovered, r.ID)
		}
	}
	sort.Strings(c.Unknown)
	return c
}

// Err is non-nil when a label names no requirement.
func (c LabelCheck) Err() error {
	if len(c.Unknown) == 0 {
		return nil
	}
	return fmt.Errorf("spec labels name requirements that are not in fixtures/requirements.yaml: %s", strings.Join(c.Unknown, ", "))
}
