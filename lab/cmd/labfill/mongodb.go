package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/ajar-scan/ajar/lab"
	"github.com/ajar-scan/ajar/lab/fake"
)

// mongoLine is one document of the MongoDB seed, a JSON line.
type mongoLine struct {
	DB         string          `json:"db"`
	Collection string          `json:"collection"`
	Doc        json.RawMessage `json:"doc"`
}

// mongoCollections are the seeded collections and their sizes.
var mongoCollections = []struct {
	db, coll string
	n        int64
}{
	{"police", "person_info", lab.MongoPersons},
	{"police", "case_record", lab.MongoCases},
	{"shop", "orders", lab.MongoOrders},
}

func printMongo(w *bufio.Writer, g fake.Generator) error {
	enc := json.NewEncoder(w)
	emit := func(db, coll string, doc any) error {
		b, err := json.Marshal(doc)
		if err != nil {
			return err
		}
		return enc.Encode(mongoLine{db, coll, b})
	}
	type personDoc struct {
		ID        int    `json:"_id"`
		Name      string `json:"name"`
		Mobile    string `json:"mobile"`
		IDNumber  string `json:"id_number"`
		Address   string `json:"address"`
		BirthDate string `json:"birth_date"`
	}
	for i := 1; i <= lab.MongoPersons; i++ {
		p := g.Person(i)
		if err := emit("police", "person_info", personDoc{i, p.Name, p.Mobile, p.IDNumber, p.Address,
			p.BirthDate.Format("2006-01-02")}); err != nil {
			return err
		}
	}
	type caseDoc struct {
		ID       int    `json:"_id"`
		PersonID int    `json:"person_id"`
		CaseNo   string `json:"case_no"`
		Offence  string `json:"offence"`
		FiledAt  string `json:"filed_at"`
	}
	for i := 1; i <= lab.MongoCases; i++ {
		c := g.Case(i, lab.MongoPersons)
		if err := emit("police", "case_record", caseDoc{i, c.PersonIndex, c.CaseNo, c.Offence,
			c.FiledAt.Format(time.RFC3339)}); err != nil {
			return err
		}
	}
	type orderDoc struct {
		ID        int    `json:"_id"`
		OrderNo   string `json:"order_no"`
		Customer  string `json:"customer"`
		Mobile    string `json:"mobile"`
		Address   string `json:"address"`
		Amount    string `json:"amount"`
		CreatedAt string `json:"created_at"`
	}
	for i := 1; i <= lab.MongoOrders; i++ {
		o := g.Order(i)
		if err := emit("shop", "orders", orderDoc{i, o.OrderNo, o.Customer, o.Mobile, o.Address,
			o.AmountYuan(), o.CreatedAt.Format(time.RFC3339)}); err != nil {
			return err
		}
	}
	return nil
}

// deadline is the context's deadline, or ten seconds from now.
func deadline(ctx context.Context) time.Time {
	if dl, ok := ctx.Deadline(); ok {
		return dl
	}
	return time.Now().Add(10 * time.Second)
}

// mongoConnect connects to exactly one server, as the lab's only client.
func mongoConnect(ctx context.Context, s server) (*mongo.Client, error) {
	opts := options.Client().SetHosts([]string{s.addr}).SetDirect(true).
		SetConnectTimeout(5 * time.Second).SetServerSelectionTimeout(time.Until(deadline(ctx))).
		SetAppName("ajar-labfill")
	if s.user != "" {
		opts.SetAuth(options.Credential{Username: s.user, Password: s.password, AuthSource: "admin"})
	}
	c, err := mongo.Connect(opts)
	if err != nil {
		return nil, err
	}
	if err := c.Ping(ctx, nil); err != nil {
		c.Disconnect(context.Background())
		return nil, fmt.Errorf("ping: %w", err)
	}
	return c, nil
}

func loadMongo(ctx context.Context, s server, seed io.Reader) error {
	c, err := mongoConnect(ctx, s)
	if err != nil {
		return err
	}
	defer c.Disconnect(context.Background())
	for _, db := range []string{"police", "shop"} {
		if err := c.Database(db).Drop(ctx); err != nil {
			return fmt.Errorf("drop %s: %w", db, err)
		}
	}
	batches := map[string][]any{}
	flush := func(key string) error {
		docs := batches[key]
		if len(docs) == 0 {
			return nil
		}
		db, coll, _ := bytes.Cut([]byte(key), []byte("."))
		if _, err := c.Database(string(db)).Collection(string(coll)).InsertMany(ctx, docs); err != nil {
			return fmt.Errorf("insert into %s: %w", key, err)
		}
		batches[key] = docs[:0]
		return nil
	}
	dec := json.NewDecoder(seed)
	for {
		var l mongoLine
		if err := dec.Decode(&l); err == io.EOF {
			break
		} else if err != nil {
			return fmt.Errorf("read seed: %w", err)
		}
		var doc bson.D
		// Extended JSON in relaxed mode reads small integers as int32.
		if err := bson.UnmarshalExtJSON(l.Doc, false, &doc); err != nil {
			return fmt.Errorf("read seed document: %w", err)
		}
		key := l.DB + "." + l.Collection
		batches[key] = append(batches[key], doc)
		if len(batches[key]) == 500 {
			if err := flush(key); err != nil {
				return err
			}
		}
	}
	for key := range batches {
		if err := flush(key); err != nil {
			return err
		}
	}
	return nil
}

func checkMongo(ctx context.Context, s server) error {
	c, err := mongoConnect(ctx, s)
	if err != nil {
		return err
	}
	defer c.Disconnect(context.Background())
	for _, mc := range mongoCollections {
		n, err := c.Database(mc.db).Collection(mc.coll).CountDocuments(ctx, bson.D{})
		if err != nil {
			return fmt.Errorf("count %s.%s: %w", mc.db, mc.coll, err)
		}
		if err := want(mc.db+"."+mc.coll, n, mc.n); err != nil {
			return err
		}
	}
	return nil
}

// pingMongo runs ping, which a server answers before authentication.
func pingMongo(ctx context.Context, s server) error {
	c, err := mongoConnect(ctx, server{addr: s.addr})
	if err != nil {
		return err
	}
	return c.Disconnect(context.Background())
}
