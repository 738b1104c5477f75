package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hmpconform/hmpconform/mockidp"
)

// flavourFlag is --sp-flavour entityID=flavour, repeatable: the IdP
// flavour of logins to that SP when the login form names none.
type flavourFlag map[string]string

func (f flavourFlag) String() string {
	var parts []string
	for sp, fl := range f {
		parts = append(parts, sp+"="+fl)
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

// Set takes the last "=" as the separator: an entity ID may contain one.
func (f flavourFlag) Set(v string) error {
	i := strings.LastIndex(v, "=")
	if i <= 0 || i == len(v)-1 {
		return fmt.Errorf("want entityID=flavour, got %q", v)
	}
	sp, name := strings.TrimSpace(v[:i]), strings.TrimSpace(v[i+1:])
	fl, ok := mockidp.LookupFlavour(name)
	if !ok {
		var ids []string
		for _, x := range mockidp.Flavours() {
			ids = append(ids, x.ID)
		}
		return fmt.Errorf("unknown IdP flavour %q (%s)", name, strings.Join(ids, ", "))
	}
	f[sp] = fl.ID
	return nil
}

// setFromEnv sets the flavours from MOCKIDP_SP_FLAVOUR's value v:
// entityID=flavour pairs separated by commas, as for MOCKIDP_SP_METADATA.
func (f flavourFlag) setFromEnv(v string) error {
	for _, pair := range strings.Split(v, ",") {
		if pair = strings.TrimSpace(pair); pair == "" {
			continue
		}
		if err := f.Set(pair); err != nil {
			return fmt.Errorf("MOCKIDP_SP_FLAVOUR: %w", err)
		}
	}
	return nil
}
