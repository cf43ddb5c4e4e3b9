// Prints the seccomp profile containerd applies for seccompProfile type RuntimeDefault, as the "seccomp"
// object of an OCI runtime spec, for a process with the capabilities given as arguments (none for a Pod
// that drops ALL, as recorder Pods do). The version is Debian's containerd, the runtime the project's
// real-container tests use, so the profile is the one recorder Pods get there.
package main

import (
	"encoding/json"
	"os"

	"github.com/containerd/containerd/contrib/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func main() {
	spec := &specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{Bounding: os.Args[1:]}}}
	encoder := json.NewEncoder(os.Stdout)
	encoder.SetIndent("", "  ")
	if err := encoder.Encode(seccomp.DefaultProfile(spec)); err != nil {
		panic(err)
	}
}
