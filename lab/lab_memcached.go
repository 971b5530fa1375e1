package lab

// memcached 1.6, open and with SASL (lab/kinds/41-memcached.sh).
const (
	MemcachedOpen    = "127.0.11.20:11211"
	MemcachedSecured = "127.0.11.21:11311"
	// MemcachedUser and MemcachedPassword are the secured variant's only
	// account (memcached -Y).
	MemcachedUser     = "ajar-lab"
	MemcachedPassword = "lab-secret-memcached"
)

// Seeded figures of both variants: keys person:00001 … person:01000 hold a
// person as JSON (name, mobile, id_number, address, birth_date, gender) and
// fall in one slab class; keys session:00001 … session:00300 hold a 32-digit
// hexadecimal token and fall in another.
const (
	MemcachedPersons  = 1000
	MemcachedSessions = 300
	// The slab classes the two kinds of item land in with memcached's
	// default sizes (-n 48, -f 1.25): chunks of 304 and 120 bytes.
	MemcachedPersonClass  = 6
	MemcachedSessionClass = 2
)
