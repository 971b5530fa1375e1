package lab

// MongoDB wire protocol: FerretDB 1.24 on SQLite, open and with
// authentication enforced (lab/kinds/40-mongodb.sh).
const (
	MongoOpen    = "127.0.11.10:27017"
	MongoSecured = "127.0.11.11:27117"
	// MongoUser and MongoPassword are the secured variant's setup user, in
	// the admin database.
	MongoUser     = "ajar-lab"
	MongoPassword = "lab-secret-mongo"
)

// Seeded figures of both variants: database police with collections
// person_info (fields _id, name, mobile, id_number, address, birth_date) and
// case_record (_id, person_id, case_no, offence, filed_at); database shop
// with collection orders (_id, order_no, customer, mobile, address, amount,
// created_at).
const (
	MongoPersons = 1000
	MongoCases   = 400
	MongoOrders  = 300
)
