package jit

import (
	"fmt"
	"sort"
	"strings"
)

// Provision applies HMP's Just-in-Time rules to one verified assertion.
//
// existing is the SP's current groups; asserted group values and
// DefaultUserGroups are matched against their names case-insensitively and
// come out with the SP's own spelling. The function is pure: no I/O, no
// clock.
func Provision(r Rules, existing []Group, a Assertion) (Outcome, error) {
	id, err := identifier(r, a)
	if err != nil {
		return Outcome{}, err
	}
	o := Outcome{
		Identifier: id,
		Key:        Key(id),
		FirstName:  firstValue(a.Attributes, r.FirstNameAttr),
		LastName:   firstValue(a.Attributes, r.LastNameAttr),
		Email:      firstValue(a.Attributes, r.EmailAttr),
		ShortName:  firstValue(a.Attributes, r.ShortNameAttr),
		Groups:     []Group{},
		Ignored:    []string{},
	}

	if strings.TrimSpace(r.GroupMembershipAttr) == "" {
		// Not configured: asserted groups are not looked at at all.
		o.Policy = GroupsOnCreate
		o.Groups = resolve(existing, r.DefaultUserGroups, nil)
		o.UsedDefaults = len(o.Groups) > 0
		sortGroups(o.Groups)
		return o, nil
	}

	o.Policy = ReplaceGroups
	var unknown []string
	o.Groups = resolve(existing, lookup(a.Attributes, r.GroupMembershipAttr), &unknown)
	o.Ignored = dedupeFold(unknown)
	if len(o.Groups) == 0 {
		o.Groups = resolve(existing, r.DefaultUserGroups, nil)
		o.UsedDefaults = len(o.Groups) > 0
	}
	sortGroups(o.Groups)
	return o, nil
}

// DisplayName is how the SP shows a user: "first last" when either is set,
// else the short name, else the identifier.
func DisplayName(first, last, short, identifier string) string {
	if first != "" || last != "" {
		return strings.TrimSpace(first + " " + last)
	}
	if short != "" {
		return short
	}
	return identifier
}

// Key is the account key for an identifier: trimmed and lower-cased, so
// identifiers differing only in case or surrounding spaces share an account.
func Key(identifier string) string {
	return strings.ToLower(strings.TrimSpace(identifier))
}

func identifier(r Rules, a Assertion) (string, error) {
	var id, source string
	if strings.TrimSpace(r.UniqueIdentifier) == "" {
		id, source = strings.TrimSpace(a.NameID), "NameID"
	} else {
		id, source = firstValue(a.Attributes, r.UniqueIdentifier), fmt.Sprintf("attribute %q", r.UniqueIdentifier)
	}
	if id == "" {
		return "", fmt.Errorf("%w (%s is empty or missing)", ErrNoIdentifier, source)
	}
	if Key(id) == ReservedIdentifier {
		return "", fmt.Errorf("%w (%q)", ErrReservedIdentifier, id)
	}
	return id, nil
}

// lookup returns an attribute's values: the exact name if present, else every
// attribute whose name matches case-insensitively (in name order, so the
// result does not depend on map iteration).
func lookup(attrs map[string][]string, name string) []string {
	name = strings.TrimSpace(name)
	if name == "" {
		return nil
	}
	if v, ok := attrs[name]; ok {
		return v
	}
	var names []string
	for k := range attrs {
		if strings.EqualFold(k, name) {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	var out []string
	for _, k := range names {
		out = append(out, attrs[k]...)
	}
	return out
}

// firstValue is the first non-blank value of an attribute, trimmed; "" when
// the mapping is blank or the attribute is absent.
func firstValue(attrs map[string][]string, name string) string {
	for _, v := range lookup(attrs, name) {
		if v = strings.TrimSpace(v); v != "" {
			return v
		}
	}
	return ""
}

// resolve maps names to existing groups case-insensitively, each group once.
// Blank names are skipped; names matching nothing are appended (trimmed) to
// *unknown when unknown is non-nil.
func resolve(existing []Group, names []string, unknown *[]string) []Group {
	out := []Group{}
	seen := map[int64]bool{}
	for _, n := range names {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		matched := false
		for _, g := range existing {
			if strings.EqualFold(g.Name, n) {
				matched = true
				if !seen[g.ID] {
					seen[g.ID] = true
					out = append(out, g)
				}
			}
		}
		if !matched && unknown != nil {
			*unknown = append(*unknown, n)
		}
	}
	return out
}

// dedupeFold keeps the first spelling of each case-insensitively distinct
// value, in order.
func dedupeFold(values []string) []string {
	out := []string{}
	for _, v := range values {
		dup := false
		for _, w := range out {
			if strings.EqualFold(v, w) {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, v)
		}
	}
	return out
}

func sortGroups(gs []Group) {
	sort.SliceStable(gs, func(i, j int) bool {
		a, b := strings.ToLower(gs[i].Name), strings.ToLower(gs[j].Name)
		if a != b {
			return a < b
		}
		return gs[i].ID < gs[j].ID
	})
}
