package raftstore

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/hashicorp/raft"
)

// ErrNotAdvertisable is returned when the Raft transport would advertise an
// address peers cannot dial (an unspecified IP such as 0.0.0.0): set
// Config.AdvertiseAddr.
var ErrNotAdvertisable = errors.New("raft transport: the bound address is not advertisable, set an advertise address")

// TCPStreamLayer carries Raft traffic over plain TCP. Unlike hashicorp/raft's
// own TCP layer it dials from its bind IP when bound to a specific one, so
// that on a multi-homed host a replica's Raft traffic leaves from the
// address it serves on (the one firewalls and peers know it by), not from
// whichever address the kernel's routing picks.
type TCPStreamLayer struct {
	net.Listener
	advertise net.Addr
}

var _ raft.StreamLayer = (*TCPStreamLayer)(nil)

// NewTCPStreamLayer listens on bindAddr ("127.0.0.1:0" picks a port) and
// advertises advertiseAddr (default: the bound address, which must then
// have a specific IP).
func NewTCPStreamLayer(bindAddr, advertiseAddr string) (*TCPStreamLayer, error) {
	ln, err := net.Listen("tcp", bindAddr)
	if err != nil {
		return nil, fmt.Errorf("raft TCP: listen on %s: %w", bindAddr, err)
	}
	advertise, err := advertisedAddr(ln.Addr(), advertiseAddr)
	if err != nil {
		_ = ln.Close()
		return nil, fmt.Errorf("raft TCP: %w", err)
	}
	return &TCPStreamLayer{Listener: ln, advertise: advertise}, nil
}

// Addr is the address peers dial.
func (l *TCPStreamLayer) Addr() net.Addr { return l.advertise }

// Dial connects to a peer from the bind IP (see bindDialer).
func (l *TCPStreamLayer) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	conn, err := bindDialer(l.Listener.Addr(), timeout).Dial("tcp", string(addr))
	if err != nil {
		return nil, fmt.Errorf("raft TCP: dial %s: %w", addr, err)
	}
	return conn, nil
}

// bindDialer returns a dialer whose connections leave from bound's IP when
// that IP is specific, and from the kernel's choice when the listener is on
// a wildcard address (0.0.0.0, ::) and so does not say which address is
// this replica's.
func bindDialer(bound net.Addr, timeout time.Duration) *net.Dialer {
	d := &net.Dialer{Timeout: timeout}
	if a, ok := bound.(*net.TCPAddr); ok && a.IP != nil && !a.IP.IsUnspecified() {
		// Port 0: the kernel picks an ephemeral port, as for any dial.
		d.LocalAddr = &net.TCPAddr{IP: a.IP, Zone: a.Zone}
	}
	return d
}

// advertisedAddr is the address to advertise: advertise when set, else the
// bound address, which must then be dialable.
func advertisedAddr(bound net.Addr, advertise string) (net.Addr, error) {
	if advertise != "" {
		a, err := net.ResolveTCPAddr("tcp", advertise)
		if err != nil {
			return nil, fmt.Errorf("advertise address %q: %w", advertise, err)
		}
		if a.IP == nil || a.IP.IsUnspecified() || a.Port == 0 {
			return nil, fmt.Errorf("advertise address %q: %w", advertise, ErrNotAdvertisable)
		}
		return a, nil
	}
	a, ok := bound.(*net.TCPAddr)
	if !ok || a.IP == nil || a.IP.IsUnspecified() {
		return nil, fmt.Errorf("bound to %s: %w", bound, ErrNotAdvertisable)
	}
	return a, nil
}

// advertisedLayer is a stream layer advertised under another address than
// its own (Config.AdvertiseAddr over Config.StreamLayer): peers dial a NAT
// or proxy address that leads to it.
type advertisedLayer struct {
	raft.StreamLayer
	addr net.Addr
}

// Addr is the address peers dial.
func (l advertisedLayer) Addr() net.Addr { return l.addr }
