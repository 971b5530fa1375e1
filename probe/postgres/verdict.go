package postgres

import (
	"errors"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ajar-scan/ajar"
)

// SQLSTATE codes the probe acts on.
// See https://www.postgresql.org/docs/current/errcodes-appendix.html.
const (
	codeInvalidPassword      = "28P01" // invalid_password
	codeInvalidAuthorization = "28000" // invalid_authorization_specification
	codeNoDatabase           = "3D000" // invalid_catalog_name
)

// maxDetail bounds the server's words quoted in a verdict.
const maxDetail = 256

// refusal is what a failed login says about the server.
type refusal struct {
	// Status is protected when the server wants credentials, open otherwise.
	Status ajar.Status
	// Postgres is true when the server spoke the protocol.
	Postgres bool
	// Detail quotes the server, clipped.
	Detail string
}

// classify reads the error of a failed login.
func classify(err error) refusal {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		r := refusal{Status: ajar.StatusOpen, Postgres: true, Detail: clip(pgErr.Message, maxDetail)}
		switch pgErr.Code {
		case codeInvalidPassword, codeInvalidAuthorization:
			r.Status = ajar.StatusProtected
		}
		return r
	}
	if method, ok := authRequested(err.Error()); ok {
		return refusal{
			Status:   ajar.StatusProtected,
			Postgres: true,
			Detail:   clip("password required ("+method+" authentication)", maxDetail),
		}
	}
	return refusal{Status: ajar.StatusOpen}
}

// hasCode reports whether err carries the SQLSTATE code.
func hasCode(err error, code string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == code
}

// authRequested finds, in the error pgx returns when require_auth=none meets
// a server that asks for credentials, the method the server asked for
// ("scram-sha-256", "md5", "password", "gss"). pgx has no error value for
// it, only this text (pgconn/require_auth.go); the lab's secured server
// keeps the wording under test.
func authRequested(msg string) (method string, ok bool) {
	const before, after = "server requested ", " authentication"
	i := strings.Index(msg, before)
	if i < 0 {
		return "", false
	}
	rest := msg[i+len(before):]
	j := strings.Index(rest, after)
	if j <= 0 || strings.ContainsAny(rest[:j], " \t\n") {
		return "", false
	}
	return rest[:j], true
}
