package services_test

import (
	"os/exec"
	"strings"
	"testing"
)

// Services talk only through topics: a service package may import
// services/events and the shared internal packages, never another
// service. The binaries are checked too.
func TestServicesDoNotImportEachOther(t *testing.T) {
	const mod = "github.com/surge-mq/surge/services/"
	svcs := []string{"order", "inventory", "points", "coupon"}
	for _, svc := range svcs {
		for _, pkg := range []string{mod + svc, mod + "cmd/" + svc} {
			out, err := exec.Command("go", "list", "-deps", pkg).CombinedOutput()
			if err != nil {
				t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
			}
			for dep := range strings.FieldsSeq(string(out)) {
				for _, other := range svcs {
					if other != svc && (dep == mod+other || strings.HasPrefix(dep, mod+other+"/")) {
						t.Errorf("%s depends on %s", pkg, dep)
					}
				}
			}
		}
	}
}
