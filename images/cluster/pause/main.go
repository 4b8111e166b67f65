// pause is the pod sandbox process of the local test cluster (the role of Kubernetes'
// build/pause/linux/pause.c): it holds the pod's namespaces, reaps orphans when it is PID 1 of a
// shared PID namespace, and exits 0 on SIGINT or SIGTERM. Static Go binary, no dependencies.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

var version = "3.10-forge.1"

func main() {
	if len(os.Args) > 1 && (os.Args[1] == "-v" || os.Args[1] == "--version") {
		fmt.Println("pause", version)
		return
	}
	if os.Getpid() != 1 {
		fmt.Fprintln(os.Stderr, "Warning: pause should be the first process")
	}
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for s := range sigs {
		if s == syscall.SIGCHLD {
			for {
				var ws syscall.WaitStatus
				pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
				if pid <= 0 || err != nil {
					break
				}
			}
			continue
		}
		fmt.Fprintf(os.Stderr, "Shutting down, got signal: %v\n", s)
		os.Exit(0)
	}
}
