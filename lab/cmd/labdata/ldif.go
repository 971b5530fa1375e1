package main

import (
	"encoding/base64"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/ajar-scan/ajar/lab"
	"github.com/ajar-scan/ajar/lab/fake"
)

// writeLDIF prints the entries of the lab directory in LDIF (RFC 2849):
// the base, ou=people with lab.LDAPPeople persons and ou=groups with
// lab.LDAPGroups groups.
func writeLDIF(w io.Writer) error {
	base := lab.LDAPBase
	var b strings.Builder
	entry := func(dn string, attrs ...string) {
		attr(&b, "dn", dn)
		for i := 0; i+1 < len(attrs); i += 2 {
			attr(&b, attrs[i], attrs[i+1])
		}
		b.WriteByte('\n')
	}
	entry(base, "objectClass", "top", "objectClass", "dcObject", "objectClass", "organization",
		"dc", "corp", "o", "Records Office")
	entry("ou=people,"+base, "objectClass", "organizationalUnit", "ou", "people")
	entry("ou=groups,"+base, "objectClass", "organizationalUnit", "ou", "groups")
	g := fake.New(lab.Seed)
	for i := 1; i <= lab.LDAPPeople; i++ {
		p := g.Person(i)
		uid := fmt.Sprintf("u%05d", i)
		_, size := utf8.DecodeRuneInString(p.Name)
		entry("uid="+uid+",ou=people,"+base,
			"objectClass", "inetOrgPerson", "uid", uid, "cn", p.Name, "sn", p.Name[:size],
			"givenName", p.Name[size:], "mobile", p.Mobile, "mail", uid+"@corp.internal",
			"postalAddress", p.Address, "description", p.IDNumber)
		if _, err := io.WriteString(w, b.String()); err != nil {
			return err
		}
		b.Reset()
	}
	for i, name := range []string{"records-admins", "records-clerks", "ops"} {
		var members []string
		for j := 1; j <= 3; j++ {
			members = append(members, "member", fmt.Sprintf("uid=u%05d,ou=people,%s", i*10+j, base))
		}
		entry("cn="+name+",ou=groups,"+base, append([]string{"objectClass", "groupOfNames", "cn", name}, members...)...)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// attr writes one attribute line, base64-encoded when the value is not
// safe ASCII (RFC 2849, "SAFE-STRING").
func attr(b *strings.Builder, name, value string) {
	safe := value == "" || value[0] != ' ' && value[0] != ':' && value[0] != '<'
	for i := 0; safe && i < len(value); i++ {
		if c := value[i]; c >= 0x80 || c == 0 || c == '\n' || c == '\r' {
			safe = false
		}
	}
	if safe {
		fmt.Fprintf(b, "%s: %s\n", name, value)
		return
	}
	fmt.Fprintf(b, "%s:: %s\n", name, base64.StdEncoding.EncodeToString([]byte(value)))
}
