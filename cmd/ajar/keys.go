package main

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/server"
)

func (a *app) keysCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Create, list and revoke API keys",
		Long: `Keys open the JSON API and the web UI. A reader key reads; an admin key also
changes disclosure states and alert rules. The secret is printed once, when
the key is created: only its hash is stored.`,
	}
	var role, name string
	create := &cobra.Command{
		Use:     "create",
		Short:   "Create a key and print its secret (once)",
		Example: "  ajar keys create --role reader --name dashboard",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if role != ajar.RoleReader && role != ajar.RoleAdmin {
				return usagef("--role must be reader or admin")
			}
			st, err := a.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			ks, ok := st.(ajar.KeyStore)
			if !ok {
				return errors.New("this store keeps no keys")
			}
			id, secret := newKey()
			if err := ks.CreateKey(cmd.Context(), ajar.APIKey{ID: id, Name: name, Role: role, Created: time.Now().UTC()}, server.HashKey(secret)); err != nil {
				return fmt.Errorf("create key: %w", err)
			}
			fmt.Fprintln(a.stdout, secret)
			if !a.quiet {
				fmt.Fprintf(a.stderr, "ajar: created %s key %s; the secret above is shown only now\n", role, id)
			}
			return nil
		},
	}
	create.Flags().StringVar(&role, "role", ajar.RoleReader, "reader or admin")
	create.Flags().StringVar(&name, "name", "", "what the key is for")
	list := &cobra.Command{
		Use:   "list",
		Short: "List keys (never their secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := a.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			keys, err := st.(ajar.KeyStore).Keys(cmd.Context())
			if err != nil {
				return fmt.Errorf("list keys: %w", err)
			}
			t := newTable(a.stdout, "ID", "ROLE", "NAME", "CREATED", "REVOKED")
			for _, k := range keys {
				rev := "-"
				if k.Revoked != nil {
					rev = formatTime(*k.Revoked)
				}
				t.row(k.ID, k.Role, dash(k.Name), formatTime(k.Created), rev)
			}
			return t.flush()
		},
	}
	revoke := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a key",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := a.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			err = st.(ajar.KeyStore).RevokeKey(cmd.Context(), args[0], time.Now().UTC())
			if errors.Is(err, ajar.ErrNotFound) {
				return usagef("no key %q (see ajar keys list)", args[0])
			}
			return err
		},
	}
	cmd.AddCommand(create, list, revoke)
	return cmd
}

// newKey makes a key id and its secret: "ajar_" + 32 random bytes.
func newKey() (id, secret string) {
	var b [32]byte
	_, _ = rand.Read(b[:])
	var i [6]byte
	_, _ = rand.Read(i[:])
	return hex.EncodeToString(i[:]), "ajar_" + base64.RawURLEncoding.EncodeToString(b[:])
}
