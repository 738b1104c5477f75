package framework

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeProfile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "target.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadProfile(t *testing.T) {
	t.Setenv("PROFILE_TEST_URL", "https://hmp.example.test")
	t.Setenv("PROFILE_TEST_PASSWORD", "s3cret-password")
	p, err := LoadProfile(writeProfile(t, "name: x\nbaseURL: ${PROFILE_TEST_URL}\nadminPasswordEnv: PROFILE_TEST_PASSWORD\npages:\n  users: /people\n"))
	if err != nil {
		t.Fatal(err)
	}
	if p.BaseURL != "https://hmp.example.test" || p.adminPassword != "s3cret-password" || p.MetadataPath != "/saml/metadata" {
		t.Fatalf("profile: %+v", p)
	}
	pages := p.Pages.withDefaults()
	if pages.Users != "/people" || pages.Login != "/login" || pages.UserPath("7") != "/admin/users/7" {
		t.Fatalf("pages: %+v", pages)
	}
}

func TestLoadProfileRefusesBadProfiles(t *testing.T) {
	for name, body := range map[string]string{
		"no name":          "baseURL: https://a.test\nadminPasswordEnv: HOME\n",
		"http base URL":    "name: x\nbaseURL: http://a.test\nadminPasswordEnv: HOME\n",
		"password in file": "name: x\nbaseURL: https://a.test\nadminPassword: hunter2\n",
		"unset secret":     "name: x\nbaseURL: https://a.test\nadminPasswordEnv: PROFILE_TEST_SURELY_UNSET\n",
	} {
		if _, err := LoadProfile(writeProfile(t, body)); err == nil {
			t.Errorf("%s: accepted", name)
		} else if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: the error repeats a secret: %v", name, err)
		}
	}
}
