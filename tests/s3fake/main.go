// Command s3fake is the object store of kfl's upload tests (cli/tests/upload.rs): an in-memory S3 server
// (github.com/rclone/gofakes3) that checks AWS Signature Version 4 against one key pair, path-style, on a free
// loopback port. It prints its address as the first line of stdout, then one line per request
// ("METHOD PATH STATUS"), and exits when stdin closes, so it never outlives the test that started it.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"sync"

	"github.com/rclone/gofakes3"
	"github.com/rclone/gofakes3/s3mem"
)

type recorder struct {
	http.ResponseWriter
	status int
}

func (r *recorder) WriteHeader(status int) {
	r.status = status
	r.ResponseWriter.WriteHeader(status)
}

func main() {
	accessKey := flag.String("access-key", "", "the access key id requests must be signed with")
	secretKey := flag.String("secret-key", "", "its secret key")
	bucket := flag.String("bucket", "", "the bucket to create")
	flag.Parse()
	if *accessKey == "" || *secretKey == "" || *bucket == "" {
		log.Fatal("s3fake: --access-key, --secret-key and --bucket are required")
	}
	backend := s3mem.New()
	if err := backend.CreateBucket(context.Background(), *bucket); err != nil {
		log.Fatalf("s3fake: create bucket: %v", err)
	}
	faker := gofakes3.New(backend,
		gofakes3.WithV4Auth(map[string]string{*accessKey: *secretKey}),
		gofakes3.WithHostBucket(false),
	)
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatalf("s3fake: listen: %v", err)
	}
	var out sync.Mutex
	fmt.Println(listener.Addr().String())
	server := faker.Server()
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &recorder{ResponseWriter: w, status: http.StatusOK}
		server.ServeHTTP(rec, r)
		out.Lock()
		fmt.Printf("%s %s %d\n", r.Method, r.URL.Path, rec.status)
		out.Unlock()
	})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}()
	log.Fatal(http.Serve(listener, handler))
}
