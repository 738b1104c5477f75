package mutants

import (
	"testing"

	"github.com/hmpconform/hmpconform/fixtures"
)

func TestEveryMutantBreaksACatalogueRequirement(t *testing.T) {
	reqs, err := fixtures.Requirements()
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for _, r := range reqs {
		known[r.ID] = true
	}
	seen := map[string]bool{}
	for _, m := range All() {
		if !known[m.Breaks] {
			t.Errorf("%s breaks %q, which is not in the catalogue", m.Name, m.Breaks)
		}
		if seen[m.Name] {
			t.Errorf("duplicate mutant %s", m.Name)
		}
		seen[m.Name] = true
		mu := m.Mutation
		if mu.Provision == nil && mu.WrapStore == nil && mu.WrapHandler == nil {
			t.Errorf("%s changes nothing", m.Name)
		}
		if got, err := Lookup(m.Name); err != nil || got.Name != m.Name {
			t.Errorf("Lookup(%s): %v", m.Name, err)
		}
	}
	if _, err := Lookup("no-such"); err == nil {
		t.Error("Lookup of an unknown mutant succeeded")
	}
	if len(All()) < 8 {
		t.Errorf("only %d mutants", len(All()))
	}
}
