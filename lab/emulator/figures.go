package emulator

// Addresses of the emulated products in the demo lab (lab/up starts them;
// see lab/cmd/emulators for the command lines).
const (
	AddrES7Open       = "127.0.10.40:9200" // Elasticsearch 7.17.9, security off
	AddrES8Secured    = "127.0.10.41:9200" // Elasticsearch 8.11.1, security on
	AddrES6Open       = "127.0.10.42:9200" // Elasticsearch 6.8.23, security off
	AddrES7Ransomed   = "127.0.10.43:9200" // Elasticsearch 7.17.9 after a wipe: only read_me
	AddrOpenSearch    = "127.0.10.44:9200" // OpenSearch 2.11.0, no security plugin
	AddrES8Open       = "127.0.10.45:9200" // Elasticsearch 8.11.1, security off
	AddrKibana7Open   = "127.0.10.46:5601" // Kibana 7.17.9 in front of an open 7.17.9 cluster
	AddrKibana8Secure = "127.0.10.47:5601" // Kibana 8.11.1 with security: login required
	AddrCouchAdmin    = "127.0.10.48:5984" // CouchDB 3.3.3, no server admin (admin party)
	AddrCouchSecured  = "127.0.10.49:5984" // CouchDB 3.3.3, admin set, databases admin-only
	AddrCouchOpen     = "127.0.10.50:5984" // CouchDB 3.3.3, admin set, databases public
	AddrPouchOpen     = "127.0.10.51:5984" // express-pouchdb 4.2.0 (real), no admin
	AddrPouchSecured  = "127.0.10.52:5984" // express-pouchdb 4.2.0 (real), admin and _security
	AddrSolrOpen      = "127.0.10.53:8983" // Solr 9.4.1, no authentication
	AddrSolrSecured   = "127.0.10.54:8983" // Solr 9.4.1, BasicAuthPlugin with blockUnknown
	AddrOSSecured     = "127.0.10.55:9200" // OpenSearch 2.11.0 with the security plugin
)

// Seeded figures of the Elasticsearch and OpenSearch emulators: what
// _cat/indices reports (docs.count of primaries and pri.store.size in bytes).
const (
	ESPersons      = 3_000_000
	ESPersonsBytes = 1_288_490_188
	ESPopulation   = 1_250_000
	ESPopBytes     = 402_653_184
	ESCases        = 480_000
	ESCasesBytes   = 201_326_592
	// ESKibanaDocs and ESKibanaBytes describe the system index .kibana…,
	// listed but not counted.
	ESKibanaDocs  = 42
	ESKibanaBytes = 2_322_432
	// ESReadMeBytes is the store size of the ransom note index.
	ESReadMeBytes = 5_291
	// ESStored documents per index exist for searches.
	ESStored = 500
)

// Seeded figures of the CouchDB emulator (doc_count and sizes.active).
const (
	CouchPersons      = 250_000
	CouchPersonsBytes = 98_566_144
	CouchCases        = 48_000
	CouchCasesBytes   = 17_825_792
	// CouchUsersDocs counts the _users design document.
	CouchUsersDocs  = 1
	CouchUsersBytes = 2_281
	CouchStored     = 500
)

// Seeded figures of express-pouchdb: documents really stored, loaded at
// start from lab/cmd/emulators -dump couchdb.
const (
	PouchPersons = 300
	PouchCases   = 120
)

// Seeded figures of the Solr emulator (index.numDocs, index.sizeInBytes).
const (
	SolrPersons      = 2_000_000
	SolrPersonsBytes = 734_003_200
	SolrCases        = 480_000
	SolrCasesBytes   = 156_237_824
	SolrStored       = 500
)

// Credentials of the secured variants; they guard fictional data on loopback.
const (
	CouchAdminUser     = "admin"
	CouchAdminPassword = "lab-secret-couch"
)

// ESDatasets returns the indices of an open cluster, system index included.
// kibanaIndex names the saved-objects index of the version (.kibana_1 for
// 6.x and OpenSearch, .kibana_7.17.9_001 for 7.17.9).
func ESDatasets(kibanaIndex string) []Dataset {
	return []Dataset{
		PersonInfo(ESPersons, ESPersonsBytes, ESStored),
		Population(ESPopulation, ESPopBytes, ESStored),
		CaseRecord(ESCases, ESCasesBytes, ESStored, ESStored),
		SavedObjects(kibanaIndex, ESKibanaDocs, ESKibanaBytes),
	}
}

// CouchDatasets returns the databases of the CouchDB emulator, system ones
// included.
func CouchDatasets() []Dataset {
	users := Dataset{
		Name: "_users", Records: CouchUsersDocs, Bytes: CouchUsersBytes, Stored: 1, System: true,
		ID: func(int) string { return "_design/_auth" },
		Doc: func(int) Doc {
			return Doc{{"language", "keyword", "javascript"}}
		},
	}
	repl := Dataset{
		Name: "_replicator", Records: 0, Bytes: 0, Stored: 0, System: true,
		ID: func(int) string { return "" }, Doc: func(int) Doc { return nil },
	}
	return []Dataset{
		PersonInfo(CouchPersons, CouchPersonsBytes, CouchStored),
		CaseRecord(CouchCases, CouchCasesBytes, CouchStored, CouchStored),
		users, repl,
	}
}

// PouchDatasets returns what express-pouchdb is seeded with: every document
// is stored, so the counts are exact.
func PouchDatasets() []Dataset {
	return []Dataset{
		PersonInfo(PouchPersons, 0, PouchPersons),
		CaseRecord(PouchCases, 0, PouchCases, PouchPersons),
	}
}

// SolrDatasets returns the cores of the Solr emulator.
func SolrDatasets() []Dataset {
	return []Dataset{
		PersonInfo(SolrPersons, SolrPersonsBytes, SolrStored),
		CaseRecord(SolrCases, SolrCasesBytes, SolrStored, SolrStored),
	}
}

// Cluster and node names the Elasticsearch and OpenSearch emulators report,
// the defaults of the official container images.
const (
	ESClusterName = "docker-cluster"
	OSClusterName = "opensearch-cluster"
)
