package identify

import (
	"testing"

	"github.com/ajar-scan/ajar/lab"
)

// TestLabMongoDB identifies FerretDB from its isMaster answer, open and
// secured (which still answers the handshake), the latter on a port no hint
// names.
func TestLabMongoDB(t *testing.T) {
	identifyLab(t, lab.MongoOpen, "mongodb", "MongoDB", nil)
	identifyLab(t, lab.MongoSecured, "mongodb", "MongoDB", nil)
}
