package lab

// InfluxDB 1.6: open, secured (an admin exists, authentication on) and
// "half-open" (authentication on, no admin created yet: anyone may create
// the first one) (lab/kinds/44-influxdb.sh).
const (
	InfluxOpen    = "127.0.11.50:8086"
	InfluxSecured = "127.0.11.51:8186"
	InfluxNoAdmin = "127.0.11.52:8286"
	// InfluxUser and InfluxPassword are the secured variant's admin.
	InfluxUser     = "ajar-lab"
	InfluxPassword = "lab-secret-influxdb"
)

// Seeded figures of the open and the secured variant (the half-open one is
// empty): database tracking with measurement person_location (tags
// id_number, name; fields mobile, address, lat, lon; InfluxPoints points per
// person) and measurement cpu (tag host; field usage).
const (
	InfluxPersons = 500
	InfluxPoints  = 2
	InfluxHosts   = 3
	// InfluxCPUPoints is the number of points per host.
	InfluxCPUPoints = 10
)
