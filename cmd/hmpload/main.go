// Command hmpload is the bounded loopback load tool of issue 8 (performance).
//
//	hmpload idp   mock IdP logins/s against the npm saml-idp peer, same key, same machine, same run
//	hmpload acs   the reference SP's ACS rate and p99 on SQLite as the accounts grow (1k, 10k, 100k)
//	hmpload ready how long `hmpconform run` takes until both servers answer (first and kept data dir)
//
// Every run is bounded: a fixed number of requests per measurement and a time
// cap on each; a capped measurement reports the requests it completed.
// Everything runs on 127.0.0.1 over plain HTTP (the npm peer serves plain
// HTTP; TLS would measure the handshake, not the IdP). `make bench` runs both.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch os.Args[1] {
	case "idp":
		err = runIdP(ctx, os.Args[2:])
	case "acs":
		err = runACS(ctx, os.Args[2:])
	case "ready":
		err = runReady(ctx, os.Args[2:])
	case "-h", "--help", "help":
		usage()
		return
	default:
		usage()
		os.Exit(2)
	}
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "hmpload:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprint(os.Stderr, `Usage: hmpload idp|acs|ready [flags]   (hmpload idp -h for the flags)

  idp    mock IdP IdP-initiated logins/s vs the npm saml-idp peer (POST /signin), ratio
  acs    reference SP ACS rate and latency with 1k/10k/100k accounts in SQLite, p99 ratio
  ready  time from starting hmpconform run until the SP and the IdP both answer over HTTPS
`)
}
