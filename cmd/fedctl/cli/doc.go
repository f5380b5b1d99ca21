// Package cli is fedctl: its cobra commands, flags, input decoding and
// output printers. main is a thin wrapper around Run, so that tests run the
// whole command line in process against an httptest server.
//
// Exit codes: 0 on success, 1 when the command failed (the server's error
// message is printed verbatim on stderr), 2 on a usage error (bad flags,
// arguments or unknown commands).
package cli
