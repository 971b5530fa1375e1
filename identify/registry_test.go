package identify

import (
	"testing"

	"github.com/ajar-scan/ajar/lab"
)

// TestLabDockerRegistry identifies the registry from the
// Docker-Distribution-Api-Version header of /v2/, which it sends with a 401
// as well.
func TestLabDockerRegistry(t *testing.T) {
	identifyLab(t, lab.RegistryOpen, "docker-registry", "Docker Registry", nil)
	identifyLab(t, lab.RegistrySecured, "docker-registry", "Docker Registry", nil)
}
