package framework

import (
	"testing"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/hmpconform/hmpconform/fixtures"
)

func spec(labels ...string) types.SpecReport {
	return types.SpecReport{LeafNodeType: types.NodeTypeIt, LeafNodeLabels: labels}
}

func TestCheckLabels(t *testing.T) {
	cat := []fixtures.Requirement{{ID: "GRP-CASE"}, {ID: "GRP-MATCH"}, {ID: "SEC-SIG"}}
	c := CheckLabels(types.SpecReports{spec("GRP-CASE", "mockidp"), spec("GRP-TYPO"), spec("GRP-MATCH")}, cat)
	if c.Err() == nil || len(c.Unknown) != 1 || c.Unknown[0] != "GRP-TYPO" {
		t.Fatalf("unknown label not reported: %+v", c)
	}
	if len(c.Uncovered) != 1 || c.Uncovered[0] != "SEC-SIG" {
		t.Fatalf("uncovered IDs wrong: %+v", c.Uncovered)
	}
	ok := CheckLabels(types.SpecReports{spec("GRP-CASE", "interop")}, cat)
	if ok.Err() != nil {
		t.Fatalf("lower-case tags must be allowed: %v", ok.Err())
	}
}

func TestCatalogueLoads(t *testing.T) {
	reqs, err := fixtures.Requirements()
	if err != nil || len(reqs) == 0 {
		t.Fatalf("catalogue: %v (%d)", err, len(reqs))
	}
}
