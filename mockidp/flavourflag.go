package mockidp

import (
	"fmt"
	"sort"
	"strings"
)

// SPFlavourFlag is the --sp-flavour entityID=flavour flag (a flag.Value),
// repeatable: the IdP flavour of logins to that SP when the login form
// names none (Config.SPFlavours). Both the standalone mockidp binary and
// `hmpconform run` take it.
type SPFlavourFlag map[string]string

func (f SPFlavourFlag) String() string {
	var parts []string
	for sp, fl := range f {
		parts = append(parts, sp+"="+fl)
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

// Set takes the last "=" as the separator (an entity ID may contain one)
// and refuses a blank entity ID or flavour, blank after trimming too: ""
// is not a flavour, though LookupFlavour reads it as generic.
func (f SPFlavourFlag) Set(v string) error {
	i := strings.LastIndex(v, "=")
	if i < 0 {
		return fmt.Errorf("want entityID=flavour, got %q", v)
	}
	sp, name := strings.TrimSpace(v[:i]), strings.TrimSpace(v[i+1:])
	if sp == "" || name == "" {
		return fmt.Errorf("want entityID=flavour, got %q", v)
	}
	fl, ok := LookupFlavour(name)
	if !ok {
		return fmt.Errorf("unknown IdP flavour %q (%s)", name, flavourIDs())
	}
	f[sp] = fl.ID
	return nil
}

// SetFromEnv sets the flavours from v, the value of the environment
// variable envName (named in errors): entityID=flavour pairs separated by
// commas, as for MOCKIDP_SP_METADATA. Blank pairs are skipped.
func (f SPFlavourFlag) SetFromEnv(envName, v string) error {
	for _, pair := range strings.Split(v, ",") {
		if pair = strings.TrimSpace(pair); pair == "" {
			continue
		}
		if err := f.Set(pair); err != nil {
			return fmt.Errorf("%s: %w", envName, err)
		}
	}
	return nil
}
