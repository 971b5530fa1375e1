//go:build js && wasm

// Command wasm is the breach check of the browser page, compiled to
// WebAssembly: the same normalisation, hashing and OPRF blinding as the
// command line, so that the full identifier never leaves the browser.
//
// It sets globalThis.ajarBreach to an object with
//
//	prepare(value, kind, region) → {kind, prefix, token} or {error}
//	blind(token)                 → {blinded} or {error}
//	matchHashed(token, text)     → {ids} or {error}
//	matchPrivate(token, json)    → {ids} or {error}
//	forget(token)
package main

import (
	"encoding/json"
	"strconv"
	"syscall/js"

	"github.com/ajar-scan/ajar/breach"
	"github.com/ajar-scan/ajar/breach/ident"
	"github.com/ajar-scan/ajar/breach/query"
)

func main() {
	queries := map[string]*query.Query{}
	next := 0
	get := func(args []js.Value) (*query.Query, bool) {
		if len(args) == 0 {
			return nil, false
		}
		q, ok := queries[args[0].String()]
		return q, ok
	}
	fail := func(msg string) any { return map[string]any{"error": msg} }
	ids := func(ids []int, err error) any {
		if err != nil {
			return fail(err.Error())
		}
		out := make([]any, len(ids))
		for i, id := range ids {
			out[i] = id
		}
		return map[string]any{"ids": out}
	}
	api := map[string]any{
		"prepare": js.FuncOf(func(_ js.Value, args []js.Value) any {
			if len(args) < 3 {
				return fail("prepare(value, kind, region)")
			}
			n, err := ident.NewNormalizer(args[2].String())
			if err != nil {
				return fail(err.Error())
			}
			var k breach.Kind
			if s := args[1].String(); s != "" && s != "auto" {
				if k, err = breach.ParseKind(s); err != nil {
					return fail(err.Error())
				}
			}
			q, err := query.New(n, k, args[0].String())
			if err != nil {
				return fail(err.Error())
			}
			next++
			tok := strconv.Itoa(next)
			queries[tok] = q
			return map[string]any{"kind": string(q.Kind), "prefix": q.Prefix(), "token": tok}
		}),
		"blind": js.FuncOf(func(_ js.Value, args []js.Value) any {
			q, ok := get(args)
			if !ok {
				return fail("unknown token")
			}
			req, err := q.Blind()
			if err != nil {
				return fail(err.Error())
			}
			return map[string]any{"blinded": req.Blinded}
		}),
		"matchHashed": js.FuncOf(func(_ js.Value, args []js.Value) any {
			q, ok := get(args)
			if !ok || len(args) < 2 {
				return fail("unknown token")
			}
			return ids(q.MatchHashed(args[1].String()))
		}),
		"matchPrivate": js.FuncOf(func(_ js.Value, args []js.Value) any {
			q, ok := get(args)
			if !ok || len(args) < 2 {
				return fail("unknown token")
			}
			var a breach.PrivateAnswer
			if err := json.Unmarshal([]byte(args[1].String()), &a); err != nil {
				return fail("the private answer is not JSON")
			}
			return ids(q.MatchPrivate(a))
		}),
		"forget": js.FuncOf(func(_ js.Value, args []js.Value) any {
			if len(args) > 0 {
				delete(queries, args[0].String())
			}
			return nil
		}),
	}
	js.Global().Set("ajarBreach", js.ValueOf(api))
	js.Global().Call("dispatchEvent", js.Global().Get("Event").New("ajarbreachready"))
	select {}
}
