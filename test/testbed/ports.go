package testbed

import (
	"fmt"
	"net"
	"strings"
)

// freePorts returns n distinct loopback ports that were free a moment ago.
// Another process may take one before the component binds it; callers retry
// the component when its log says the address is in use (see addrInUse).
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	listeners := make([]net.Listener, 0, n)
	defer func() {
		for _, l := range listeners {
			_ = l.Close()
		}
	}()
	// Hold every listener until all ports are picked so they differ.
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("pick free port: %w", err)
		}
		listeners = append(listeners, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// addrInUse reports whether a component's log shows it lost a port race.
func addrInUse(log string) bool {
	return strings.Contains(log, "address already in use")
}
