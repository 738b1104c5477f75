package mockidp

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// checkText refuses a value that is not valid UTF-8 or holds a control
// character: an identity value the IdP signs must reach the SP as typed
// (XML cannot carry most control characters, and invalid UTF-8 would be
// sent as U+FFFD, a different user). Every identity value — persona, login
// form, queued login — passes here.
func checkText(name, v string) error {
	if !utf8.ValidString(v) {
		return fmt.Errorf("%s is not valid UTF-8", name)
	}
	if i := strings.IndexFunc(v, unicode.IsControl); i >= 0 {
		r, _ := utf8.DecodeRuneInString(v[i:])
		return fmt.Errorf("%s contains the control character %U at byte %d", name, r, i)
	}
	return nil
}
