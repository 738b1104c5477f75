package mockidp

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// checkText refuses a value that is not valid UTF-8, holds a control
// character or a character XML 1.0 cannot carry (U+FFFE, U+FFFF): an
// identity value the IdP signs must reach the SP as typed (XML cannot
// carry most control characters, and invalid UTF-8 or a non-XML character
// would be sent as U+FFFD, a different user). Every identity value —
// persona, login form, queued login — passes here.
func checkText(name, v string) error {
	if !utf8.ValidString(v) {
		return fmt.Errorf("%s is not valid UTF-8", name)
	}
	if i := strings.IndexFunc(v, unicode.IsControl); i >= 0 {
		r, _ := utf8.DecodeRuneInString(v[i:])
		return fmt.Errorf("%s contains the control character %U at byte %d", name, r, i)
	}
	if i := strings.IndexFunc(v, func(r rune) bool { return !isXMLChar(r) }); i >= 0 {
		r, _ := utf8.DecodeRuneInString(v[i:])
		return fmt.Errorf("%s contains the character %U at byte %d, which XML cannot carry", name, r, i)
	}
	return nil
}

// isXMLChar reports whether XML 1.0 can carry r (the Char production):
// #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF].
func isXMLChar(r rune) bool {
	switch {
	case r == 0x9 || r == 0xA || r == 0xD:
		return true
	case r >= 0x20 && r <= 0xD7FF:
		return true
	case r >= 0xE000 && r <= 0xFFFD:
		return true
	case r >= 0x10000 && r <= 0x10FFFF:
		return true
	}
	return false
}
