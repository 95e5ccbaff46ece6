// A report-only reference for the throughput benchmark: the baseline's work (the same
// constant-time token check, the same JSON) in Go's net/http. bench/run.ts runs it with `go run`
// when `go` is installed. Usage: go run bench/go/server.go TOKEN_FILE BODY_FILE → "listening PORT"
package main

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net"
	"net/http"
	"os"
)

func main() {
	token, err := os.ReadFile(os.Args[1])
	if err != nil {
		panic(err)
	}
	body, err := os.ReadFile(os.Args[2])
	if err != nil {
		panic(err)
	}
	digest := sha256.Sum256(token)
	http.HandleFunc("/v1/credentials", func(w http.ResponseWriter, r *http.Request) {
		presented := sha256.Sum256([]byte(r.Header.Get("Authorization")))
		if subtle.ConstantTimeCompare(presented[:], digest[:]) != 1 {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"code":"TOKEN_INVALID","message":"no"}`))
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Write(body)
	})
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	fmt.Printf("listening %d\n", listener.Addr().(*net.TCPAddr).Port)
	http.Serve(listener, nil)
}
