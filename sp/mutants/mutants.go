// Package mutants holds deliberately broken variants of the reference SP:
// its JIT rules, its store and its routes. They exist only to prove that the suites catch each fault: a
// suite that stays green against a mutant does not test its requirement.
// Nothing in the product selects them; the suites do, through
// HMPCONFORM_SP_MUTANT.
package mutants

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hmpconform/hmpconform/sp/jit"
	"github.com/hmpconform/hmpconform/sp/refsp"
)

// ProvisionFunc matches server.ProvisionFunc.
type ProvisionFunc = func(jit.Rules, []jit.Group, jit.Assertion) (jit.Outcome, error)

// Mutant is one broken variant of the SP and the requirement it breaks.
type Mutant struct {
	Name        string
	Breaks      string // requirement ID whose specs must turn red
	Description string
	Mutation    refsp.Mutation
}

func rules(name, breaks, desc string, p ProvisionFunc) Mutant {
	return Mutant{name, breaks, desc, refsp.Mutation{Provision: p}}
}

// All lists the mutants in a stable order.
func All() []Mutant {
	return []Mutant{
		rules("case-sensitive", "GRP-CASE", "group names match only with the same case", caseSensitive),
		rules("unknown-refuses", "GRP-UNKNOWN", "an asserted group with no SP group refuses the login", unknownRefuses),
		{"unknown-created", "GRP-UNKNOWN", "an asserted group with no SP group is created and joined", refsp.Mutation{WrapStore: createUnknownGroups}},
		rules("no-default-fallback", "GRP-DEFAULT", "Default User Groups are never applied when Group Membership is configured", noDefaultFallback),
		rules("defaults-always", "GRP-DEFAULT", "Default User Groups are added even when asserted groups match", defaultsAlways),
		rules("groups-without-attribute", "GRP-NOATTR", "asserted groups are applied even when Group Membership is not configured", groupsWithoutAttribute),
		{"second-account", "JIT-CREATE", "every sign-in of a known identifier creates another account", refsp.Mutation{WrapStore: secondAccount}},
		{"login-hidden", "BYPASS-LOGIN", "/login sends the browser to the IdP while SSO is configured", refsp.Mutation{WrapHandler: hideLogin}},
		{"save-keeps-sessions", "SET-SAVE-LOGOUT", "Save Settings leaves users signed in", refsp.Mutation{WrapStore: keepSessions}},
		rules("haiadmin-via-sso", "BYPASS-ONLY-LOCAL", "an assertion naming haiadmin gets an account", haiadminViaSSO),
	}
}

func caseSensitive(r jit.Rules, existing []jit.Group, a jit.Assertion) (jit.Outcome, error) {
	var exact []jit.Group
	values := map[string]bool{}
	for _, v := range a.Attributes[r.GroupMembershipAttr] {
		values[strings.TrimSpace(v)] = true
	}
	for _, g := range existing {
		if values[g.Name] {
			exact = append(exact, g)
		}
	}
	// Only the groups whose spelling matches exactly survive.
	return withGroups(r, existing, a, exact)
}

func unknownRefuses(r jit.Rules, existing []jit.Group, a jit.Assertion) (jit.Outcome, error) {
	o, err := jit.Provision(r, existing, a)
	if err == nil && len(o.Ignored) > 0 {
		return jit.Outcome{}, fmt.Errorf("unknown group %q", o.Ignored[0])
	}
	return o, err
}

func noDefaultFallback(r jit.Rules, existing []jit.Group, a jit.Assertion) (jit.Outcome, error) {
	o, err := jit.Provision(r, existing, a)
	if err == nil && r.GroupMembershipAttr != "" && o.UsedDefaults {
		o.Groups, o.UsedDefaults = nil, false
	}
	return o, err
}

func defaultsAlways(r jit.Rules, existing []jit.Group, a jit.Assertion) (jit.Outcome, error) {
	o, err := jit.Provision(r, existing, a)
	if err != nil {
		return o, err
	}
	withDefaults := r
	withDefaults.GroupMembershipAttr = ""
	d, err := jit.Provision(withDefaults, existing, a)
	if err != nil {
		return o, err
	}
	return merge(o, d.Groups), nil
}

func groupsWithoutAttribute(r jit.Rules, existing []jit.Group, a jit.Assertion) (jit.Outcome, error) {
	if r.GroupMembershipAttr == "" {
		r.GroupMembershipAttr = "groups"
	}
	return jit.Provision(r, existing, a)
}

// withGroups is the correct outcome with its groups replaced by matched
// (defaults still apply when matched is empty).
func withGroups(r jit.Rules, existing []jit.Group, a jit.Assertion, matched []jit.Group) (jit.Outcome, error) {
	stripped := a
	stripped.Attributes = map[string][]string{}
	for k, v := range a.Attributes {
		if k != r.GroupMembershipAttr {
			stripped.Attributes[k] = v
		}
	}
	o, err := jit.Provision(r, existing, stripped) // defaults only
	if err != nil || len(matched) == 0 {
		return o, err
	}
	o.Groups, o.UsedDefaults = matched, false
	return o, nil
}

func merge(o jit.Outcome, extra []jit.Group) jit.Outcome {
	seen := map[int64]bool{}
	var out []jit.Group
	for _, g := range append(append([]jit.Group{}, o.Groups...), extra...) {
		if !seen[g.ID] {
			seen[g.ID] = true
			out = append(out, g)
		}
	}
	sort.Slice(out, func(i, j int) bool { return strings.ToLower(out[i].Name) < strings.ToLower(out[j].Name) })
	o.Groups = out
	return o
}

func haiadminViaSSO(r jit.Rules, existing []jit.Group, a jit.Assertion) (jit.Outcome, error) {
	o, err := jit.Provision(r, existing, a)
	if err == nil || r.UniqueIdentifier != "" {
		return o, err
	}
	// Skip the reserved-identifier check by provisioning a stand-in name.
	real := a.NameID
	a.NameID = "stand-in"
	o, err = jit.Provision(r, existing, a)
	o.Identifier, o.Key = strings.TrimSpace(real), jit.Key(real)
	return o, err
}

// Lookup returns the named mutant.
func Lookup(name string) (Mutant, error) {
	var names []string
	for _, m := range All() {
		if m.Name == name {
			return m, nil
		}
		names = append(names, m.Name)
	}
	return Mutant{}, fmt.Errorf("no mutant %q (have: %s)", name, strings.Join(names, ", "))
}
