package main

import "testing"

func TestRolloverFlag(t *testing.T) {
	t.Setenv("MOCKIDP_ROLLOVER", "")
	if o, err := parseFlags(nil); err != nil || o.rollover {
		t.Fatalf("default: rollover %v, %v; want off", o.rollover, err)
	}
	if o, err := parseFlags([]string{"--rollover"}); err != nil || !o.rollover {
		t.Fatalf("--rollover: %v, %v", o.rollover, err)
	}
	t.Setenv("MOCKIDP_ROLLOVER", "true")
	if o, err := parseFlags(nil); err != nil || !o.rollover {
		t.Fatalf("MOCKIDP_ROLLOVER=true: %v, %v", o.rollover, err)
	}
}
