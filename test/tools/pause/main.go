// pause holds a Pod's namespaces open for its containers, as registry.k8s.io/pause does. The test node has
// no registry to pull that image from, so the harness builds this one (test/harness/pause-image.ts).
// It waits for SIGTERM or SIGINT and exits 0; as PID 1 of the Pod's sandbox it also reaps orphaned children.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	children := make(chan os.Signal, 16)
	signal.Notify(children, syscall.SIGCHLD)
	for {
		select {
		case <-stop:
			os.Exit(0)
		case <-children:
			for {
				pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil)
				if pid <= 0 || err != nil {
					break
				}
			}
		}
	}
}
