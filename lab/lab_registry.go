package lab

// Docker registries of the lab (docker-registry 2.8, lab/kinds/62-registry.sh):
// the open one answers anyone; the secured one wants RegistryUser and
// RegistryPassword (htpasswd, bcrypt). Both hold the repositories of
// RegistryRepositories, pushed through the registry's own HTTP API.
const (
	RegistryOpen     = "127.0.13.30:5000"
	RegistrySecured  = "127.0.13.31:5100"
	RegistryUser     = "ci-push"
	RegistryPassword = "lab-secret-registry"
)

// RegistryRepo is one repository of the lab registries and its tags.
type RegistryRepo struct {
	Name string
	Tags []string
}

// RegistryRepositories returns the seeded repositories in catalog order
// (lexical), each with its tags, sorted (a registry lists tags in no set
// order).
func RegistryRepositories() []RegistryRepo {
	return []RegistryRepo{
		{"backend/billing-api", []string{"1.4.0", "1.4.1", "1.5.0", "latest"}},
		{"backend/records-service", []string{"2022.10", "2022.11", "latest"}},
		{"ops/db-backup", []string{"nightly"}},
		{"ops/mysql-client", []string{"8.0", "latest"}},
		{"web/office-frontend", []string{"v3.2.1"}},
	}
}
