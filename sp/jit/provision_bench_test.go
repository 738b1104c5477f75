package jit

// Benchmarks for issue 8: the JIT rules alone (pure function, no I/O). No
// timed assertions: figures only.

import (
	"fmt"
	"testing"
)

func benchGroups(n int) []Group {
	gs := make([]Group, n)
	for i := range gs {
		gs[i] = Group{ID: int64(i + 1), Name: fmt.Sprintf("Group %04d", i)}
	}
	return gs
}

func benchAssertion(groups []string) Assertion {
	return Assertion{NameID: "Alice@Example.com", Attributes: map[string][]string{
		"firstName": {"Alice"}, "lastName": {"Liddell"}, "email": {"alice@example.com"}, "shortName": {"alice"},
		"groups": groups,
	}}
}

// BenchmarkProvision: a typical login (3 SP groups, 3 asserted values, one
// unknown) and a large directory (1000 SP groups, 50 asserted values, some
// in another case, some unknown, some repeated).
func BenchmarkProvision(b *testing.B) {
	rules := Rules{
		FirstNameAttr: "firstName", LastNameAttr: "lastName", EmailAttr: "email", ShortNameAttr: "shortName",
		GroupMembershipAttr: "groups", DefaultUserGroups: []string{"Group 0001"},
	}
	b.Run("3-groups", func(b *testing.B) {
		existing := []Group{{ID: 3, Name: "Sales"}, {ID: 1, Name: "Engineering"}, {ID: 2, Name: "Support"}}
		a := benchAssertion([]string{"engineering", "Sales", "Unknown"})
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Provision(rules, existing, a); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("1000-groups", func(b *testing.B) {
		existing := benchGroups(1000)
		var asserted []string
		for i := range 50 {
			switch i % 5 {
			case 0:
				asserted = append(asserted, fmt.Sprintf("GROUP %04d", i*17))
			case 1:
				asserted = append(asserted, fmt.Sprintf("Unknown %d", i))
			case 2:
				asserted = append(asserted, asserted[0])
			default:
				asserted = append(asserted, fmt.Sprintf("Group %04d", i*13))
			}
		}
		a := benchAssertion(asserted)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Provision(rules, existing, a); err != nil {
				b.Fatal(err)
			}
		}
	})
}
