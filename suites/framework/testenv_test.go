package framework

import (
	"context"
	"testing"

	"github.com/hmpconform/hmpconform/suites/framework/browser"
)

// startTestEnv starts a stack and a browser for one test (closed when it
// ends), or skips the test where there is no Chromium.
func startTestEnv(t *testing.T, tag string) *Env {
	t.Helper()
	if err := browser.CheckExecPath(browser.ResolveExecPath("")); err != nil {
		t.Skip(err)
	}
	env, err := Start(context.Background(), Options{Tag: tag})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(env.Close)
	return env
}
