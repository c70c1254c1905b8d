package bigquery

import (
	"context"
	"testing"
	"time"

	bq "cloud.google.com/go/bigquery"
	"github.com/goccy/bigquery-emulator/server"
	"github.com/goccy/bigquery-emulator/types"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"
)

func TestEmulatorSmoke(t *testing.T) {
	srv, err := server.New(server.TempStorage)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Load(server.StructSource(types.NewProject("test", types.NewDataset("ds")))); err != nil {
		t.Fatal(err)
	}
	ts := srv.TestServer()
	defer func() { ts.Close(); _ = srv.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := bq.NewClient(ctx, "test", option.WithEndpoint(ts.URL), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	it, err := c.Query("SELECT 1 + 1 AS x").Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var row []bq.Value
	if err := it.Next(&row); err != nil && err != iterator.Done {
		t.Fatal(err)
	}
	t.Logf("row %v", row)
}
