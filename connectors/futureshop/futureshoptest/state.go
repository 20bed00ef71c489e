package futureshoptest

import (
	"encoding/json"
	"fmt"
	"io"
)

// state is what SaveState writes: the shop's orders, in insertion order.
// Tokens are left out on purpose: a client of a restarted server gets 401
// and fetches a new one, as it must after a real token expires.
type state struct {
	Orders []Order `json:"orders"`
}

// SaveState writes the shop's orders as JSON, for LoadState to read into
// another server, in this process or a later one.
func (s *Server) SaveState(w io.Writer) error {
	b, err := json.MarshalIndent(state{Orders: s.Orders()}, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding the shop's state: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// LoadState adds the orders of a state SaveState wrote, as Seed does:
// an order already in the shop is replaced. It reads strictly (an unknown
// key is an error), since a state file is often edited by hand.
func (s *Server) LoadState(r io.Reader) error {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var st state
	if err := dec.Decode(&st); err != nil {
		return fmt.Errorf("reading the shop's state: %w", err)
	}
	for i, o := range st.Orders {
		if o.OrderNo == "" {
			return fmt.Errorf("reading the shop's state: order %d has no orderNo", i+1)
		}
	}
	s.Seed(st.Orders...)
	return nil
}
