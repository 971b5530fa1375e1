package lab

// LDAP servers of the lab (OpenLDAP slapd 2.5, lab/kinds/65-ldap.sh): the
// open one lets anyone bind anonymously and read everything; the secured
// one disallows anonymous binds and requires authentication for any
// operation. Both hold LDAPPeople persons under ou=people and LDAPGroups
// groups under ou=groups of LDAPBase.
const (
	LDAPOpen     = "127.0.13.60:389"
	LDAPSecured  = "127.0.13.61:1389"
	LDAPBase     = "dc=corp,dc=internal"
	LDAPAdminDN  = "cn=admin,dc=corp,dc=internal"
	LDAPPassword = "lab-secret-ldap"
	// LDAPPeople are the entries uid=u00001 … uid=u01000 under ou=people:
	// inetOrgPerson with uid, cn, sn, givenName, mobile, mail, postalAddress
	// and description (the resident ID number).
	LDAPPeople = 1000
	// LDAPGroups are the groupOfNames entries under ou=groups.
	LDAPGroups = 3
)
