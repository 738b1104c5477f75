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
// is not a flavour, though LookupFlavour reads it as generic. It refuses
// an entity ID given twice with different flavours (the same flavour
// again is fine), and a comma-separated list of pairs (x=entra,y=okta
// would otherwise map the entity "x=entra,y"): one SP per flag.
func (f SPFlavourFlag) Set(v string) error {
	sp, fl, err := parseSPFlavour(v)
	if err != nil {
		return err
	}
	if strings.Contains(v, ",") {
		list := true
		for _, piece := range strings.Split(v, ",") {
			if _, _, err := parseSPFlavour(piece); err != nil {
				list = false
				break
			}
		}
		if list {
			return fmt.Errorf("%q is a list: one SP per --sp-flavour; use the flag again (or MOCKIDP_SP_FLAVOUR for a comma-separated list)", v)
		}
	}
	if old, ok := f[sp]; ok && old != fl {
		return fmt.Errorf("%q is given twice, as %s and as %s: give each SP one flavour", sp, old, fl)
	}
	f[sp] = fl
	return nil
}

// parseSPFlavour parses one entityID=flavour pair (see Set).
func parseSPFlavour(v string) (sp, flavour string, err error) {
	i := strings.LastIndex(v, "=")
	if i < 0 {
		return "", "", fmt.Errorf("want entityID=flavour, got %q", v)
	}
	sp, name := strings.TrimSpace(v[:i]), strings.TrimSpace(v[i+1:])
	if sp == "" || name == "" {
		return "", "", fmt.Errorf("want entityID=flavour, got %q", v)
	}
	fl, ok := LookupFlavour(name)
	if !ok {
		return "", "", fmt.Errorf("unknown IdP flavour %q (%s)", name, flavourIDs())
	}
	return sp, fl.ID, nil
}

// SetFromEnv sets the flavours from v, the value of the environment
// variable envName (named in errors): entityID=flavour pairs separated by
// commas, as for MOCKIDP_SP_METADATA. Blank pairs between others are
// skipped; an empty v sets nothing (the variable is unset), but a value
// that is not empty and holds no pair (" ", ",") is refused: it is a
// mistake, not a way to say "none".
func (f SPFlavourFlag) SetFromEnv(envName, v string) error {
	pairs := 0
	for _, pair := range strings.Split(v, ",") {
		if pair = strings.TrimSpace(pair); pair == "" {
			continue
		}
		pairs++
		if err := f.Set(pair); err != nil {
			return fmt.Errorf("%s: %w", envName, err)
		}
	}
	if v != "" && pairs == 0 {
		return fmt.Errorf("%s=%q holds no entityID=flavour pair; unset it (or leave it empty) for none", envName, v)
	}
	return nil
}
