package server_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// A group named in Default User Groups cannot be renamed or deleted
// (the settings would name a missing group), and a bogus group ID on a
// user's groups is a 400 that changes nothing.
func TestGroupsTheSettingsDependOn(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := t.Context()
	admin := h.mustLoginAdmin()
	token := h.csrf(admin)

	groups, err := h.app.Store.Groups(ctx)
	if err != nil || len(groups) == 0 {
		t.Fatalf("groups: %v %v", groups, err)
	}
	def := groups[0]
	cfg, _ := h.app.Store.Settings(ctx)
	cfg.DefaultUserGroups = []string{def.Name}
	if _, err := h.app.Store.SaveSettings(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	admin = h.mustLoginAdmin() // saving through the store ended no admin session, but be safe
	token = h.csrf(admin)

	for _, action := range []string{"delete", "rename"} {
		form := url.Values{"csrf": {token}, "name": {def.Name + "-renamed"}}
		res := h.postForm(fmt.Sprintf("/admin/groups/%d/%s", def.ID, action), form, admin)
		if res.StatusCode != http.StatusConflict || !strings.Contains(res.Body, "Default User Group") {
			t.Errorf("%s of a default group: %d, want 409 naming the setting", action, res.StatusCode)
		}
	}
	after, _ := h.app.Store.Groups(ctx)
	found := false
	for _, g := range after {
		found = found || (g.ID == def.ID && g.Name == def.Name)
	}
	if !found {
		t.Fatal("the default group was changed")
	}

	if res := h.postForm("/admin/groups/abc/rename", url.Values{"csrf": {token}, "name": {"X"}}, admin); res.StatusCode != http.StatusNotFound {
		t.Errorf("rename with a bad id: %d, want 404", res.StatusCode)
	}

	// Group Membership not configured, so groups are editable by hand.
	cfg.GroupMembershipAttr = ""
	if _, err := h.app.Store.SaveSettings(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	h.mustLoginSSO(identity{NameID: "editable@example.com"})
	u, ok := h.userByKey("editable@example.com")
	if !ok {
		t.Fatal("no user")
	}
	admin = h.mustLoginAdmin()
	token = h.csrf(admin)
	res := h.postForm(fmt.Sprintf("/admin/users/%d/groups", u.ID), url.Values{"csrf": {token}, "group": {"999999"}}, admin)
	if res.StatusCode != http.StatusBadRequest {
		t.Errorf("bogus group id: %d, want 400", res.StatusCode)
	}
	if again, _ := h.userByKey("editable@example.com"); len(again.Groups) != len(u.Groups) {
		t.Errorf("groups changed: %v -> %v", u.Groups, again.Groups)
	}
}
