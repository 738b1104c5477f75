package reports

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hmpconform/hmpconform/suites/framework/browser"
)

func TestZZShot(t *testing.T) {
	page, out := os.Getenv("SHOT_PAGE"), os.Getenv("SHOT_OUT")
	if page == "" {
		t.Skip()
	}
	abs, _ := filepath.Abs(page)
	b, err := browser.Start(browser.Options{UserDataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	tab, cancel, _ := b.NewTab(t.Context())
	defer cancel()
	if err := browser.Run(tab, 30*time.Second, chromedp.Navigate("file://"+abs), chromedp.Sleep(time.Second)); err != nil {
		t.Fatal(err)
	}
	if sel := os.Getenv("SHOT_SCROLL"); sel != "" {
		browser.Run(tab, 5*time.Second, chromedp.Evaluate[chromedp.Void](`document.querySelector(`+"`"+sel+"`"+`).scrollIntoView()`), chromedp.Sleep(300*time.Millisecond))
	}
	img, err := browser.Get(tab, 30*time.Second, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(out, img, 0o644)
}
