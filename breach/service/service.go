// Package service puts the breach range API and the check page behind one
// handler, the one that ajar serve and ajar breach serve mount.
package service

import (
	"net/http"

	"github.com/ajar-scan/ajar/breach/api"
	"github.com/ajar-scan/ajar/breach/rangedb"
	"github.com/ajar-scan/ajar/breach/web"
)

// New returns a handler of /api/v1/breach/…, /api/v1/breaches, /breach and
// /breach/assets/… over db.
func New(db *rangedb.DB, o api.Options) http.Handler {
	mux := http.NewServeMux()
	a := api.New(db, o)
	mux.Handle("/api/v1/breach/", a)
	mux.Handle("/api/v1/breaches", a)
	page := web.New()
	mux.Handle("/breach", page)
	mux.Handle("/breach/", page)
	return mux
}
