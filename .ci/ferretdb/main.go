// Command ferretdb runs FerretDB, a MongoDB-wire server on SQLite, so that
// CI and developers can run Questline's MongoDB suites without a MongoDB
// package. It stands in for MongoDB only in tests; production runs on real
// MongoDB. It lives in its own module so the product's go.mod never names
// FerretDB.
//
// It listens on -listen (port 0 picks a free one), stores its data under
// -dir, writes the MONGO_URI to -uri-file once it accepts connections, and
// stops on SIGINT or SIGTERM.
package main

import (
	"context"
	"flag"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

// sqliteParams are added to every database's SQLite URI: the data is
// thrown away after the run, so commits need not wait for the disk.
const sqliteParams = "_pragma=synchronous(off)"

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "TCP address to listen on (port 0: a free one)")
	dir := flag.String("dir", "", "directory for the SQLite data files (required)")
	uriFile := flag.String("uri-file", "", "file to write the MongoDB URI to once listening (required)")
	flag.Parse()
	if *dir == "" || *uriFile == "" {
		flag.Usage()
		os.Exit(2)
	}

	// Warnings only: FerretDB logs every connection at info level.
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: *listen},
		Logger:    logger,
		Handler:   "sqlite",
		SQLiteURL: "file:" + *dir + "/?" + sqliteParams,
	})
	if err != nil {
		logger.Error("ferretdb: start", "err", err)
		os.Exit(1)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f.Run(ctx)
	}()

	// MongoDBURI blocks until Run has opened the listener. The URI is
	// written to a temporary name and renamed, so a reader never sees half.
	tmp := *uriFile + ".tmp"
	if err := os.WriteFile(tmp, []byte(f.MongoDBURI()+"\n"), 0o644); err != nil {
		logger.Error("ferretdb: write uri", "err", err)
		os.Exit(1)
	}
	if err := os.Rename(tmp, *uriFile); err != nil {
		logger.Error("ferretdb: write uri", "err", err)
		os.Exit(1)
	}
	<-done
}
