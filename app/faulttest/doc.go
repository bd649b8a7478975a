// Package faulttest breaks Stride under load and checks what it promised Thinkific: a 2xx
// answer means the delivery is stored, exactly once, and will be applied exactly once. The
// tests run the real binary as a child process against a PostgreSQL cluster of their own,
// then kill the server with SIGKILL or stop the database in the middle of a stream of signed
// events. They carry the build tag fault, so plain `go test ./...` leaves them out:
//
//	go test -tags fault -count=1 ./app/faulttest/
package faulttest
