package framework

import (
	"fmt"

	"github.com/hmpconform/hmpconform/suites/framework/browser"
)

// SubmitAndWaitForSP clicks a submit button by ID (the IdP's Sign in, or a
// crafted form that posts to the SP) and reads the SP page the login ends
// on, signed in or refused. Documents that only pass through, such as the
// IdP's auto-posting form, are not waited for.
func (u *User) SubmitAndWaitForSP(id string) (Outcome, error) {
	if err := browser.Run(u.Tab, StepTimeout, ClickAndWaitFor(id, spEndCSS)); err != nil {
		loc, _ := browser.Location(u.Tab)
		return Outcome{}, fmt.Errorf("after #%s the login did not end on an SP page (at %s): %w", id, loc, err)
	}
	return u.WaitForSP()
}
