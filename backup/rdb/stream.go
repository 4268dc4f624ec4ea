package rdb

import "encoding/binary"

// Stream entry flags in a stream listpack.
const (
	streamDeleted    = 1 // the entry was XDELed: it only keeps its slot
	streamSameFields = 2 // the entry has the master entry's fields
)

// stream reads a stream: its listpacks (each keyed by the id its entries
// are relative to), its length and ids, then its consumer groups.
func (p *parser) stream(t byte) error {
	n, err := p.r.count()
	if err != nil {
		return err
	}
	for range n {
		at := p.r.n
		key, err := p.r.str()
		if err != nil {
			return err
		}
		if len(key) != 16 {
			return corrupt(at, "stream node key of %d bytes, want 16", len(key))
		}
		ms, seq := binary.BigEndian.Uint64(key), binary.BigEndian.Uint64(key[8:])
		lp, err := p.r.str()
		if err != nil {
			return err
		}
		if err := p.streamListpack(lp, ms, seq); err != nil {
			return err
		}
	}
	var ids [3]uint64 // length, last id
	for i := range ids {
		if ids[i], err = p.r.count(); err != nil {
			return err
		}
	}
	p.value.StreamEnd(ids[0], ids[1], ids[2])
	if t >= typeStreamListpacks2 { // first id, max deleted id, entries added
		for range 5 {
			if _, err := p.r.count(); err != nil {
				return err
			}
		}
	}
	groups, err := p.r.count()
	if err != nil {
		return err
	}
	for range groups {
		if err := p.streamGroup(t); err != nil {
			return err
		}
	}
	return nil
}

// streamListpack walks one listpack of stream entries: a master entry
// (count, deleted count, the master fields, a 0), then each entry as flags,
// id deltas, its fields (or only values, when it has the master's fields)
// and its element count.
func (p *parser) streamListpack(lp []byte, baseMS, baseSeq uint64) error {
	var elems []elem
	if err := listpack(lp, func(e elem) error { elems = append(elems, e); return nil }); err != nil {
		return err
	}
	i := 0
	next := func() (elem, error) {
		if i >= len(elems) {
			return elem{}, blobErr("stream", "listpack entry cut short")
		}
		i++
		return elems[i-1], nil
	}
	integer := func() (int64, error) {
		e, err := next()
		if err == nil && !e.isInt {
			err = blobErr("stream", "a string where an integer belongs")
		}
		return e.i, err
	}
	if _, err := integer(); err != nil { // count
		return err
	}
	if _, err := integer(); err != nil { // deleted
		return err
	}
	nMaster, err := integer()
	if err != nil {
		return err
	}
	if nMaster < 0 || int(nMaster) > len(elems) {
		return blobErr("stream", "bad master field count %d", nMaster)
	}
	master := make([]elem, nMaster)
	for j := range master {
		if master[j], err = next(); err != nil {
			return err
		}
	}
	if _, err := integer(); err != nil { // the master entry's terminator
		return err
	}
	for i < len(elems) {
		var h [3]int64 // flags, ms delta, seq delta
		for j := range h {
			if h[j], err = integer(); err != nil {
				return err
			}
		}
		fields, same := int64(len(master)), h[0]&streamSameFields != 0
		if !same {
			if fields, err = integer(); err != nil {
				return err
			}
			if fields < 0 || int(fields) > len(elems) {
				return blobErr("stream", "bad field count %d", fields)
			}
		}
		live := h[0]&streamDeleted == 0
		if live {
			p.value.StreamEntry(baseMS+uint64(h[1]), baseSeq+uint64(h[2]), int(fields))
		}
		for j := range fields {
			f := elem{}
			if same {
				f = master[j]
			} else if f, err = next(); err != nil {
				return err
			}
			v, err := next()
			if err != nil {
				return err
			}
			if live {
				p.value.StreamField(f.text(&p.num[0]), v.text(&p.num[1]))
			}
		}
		if _, err := integer(); err != nil { // the entry's element count
			return err
		}
	}
	return nil
}

// streamGroup reads a consumer group: name, last delivered id (and, from
// type 19, its read counter), its pending list (id, delivery time, delivery
// count), then its consumers (name, seen time, from type 21 active time,
// and the ids it holds).
func (p *parser) streamGroup(t byte) error {
	name, err := p.r.str()
	if err != nil {
		return err
	}
	name = append([]byte(nil), name...)
	lastMS, err := p.r.count()
	if err != nil {
		return err
	}
	lastSeq, err := p.r.count()
	if err != nil {
		return err
	}
	if t >= typeStreamListpacks2 {
		if _, err := p.r.count(); err != nil { // entries read
			return err
		}
	}
	g := NewGroup(name, lastMS, lastSeq)
	pending, err := p.r.count()
	if err != nil {
		return err
	}
	for range pending {
		id, err := p.r.bytes(16)
		if err != nil {
			return err
		}
		ms, seq := binary.BigEndian.Uint64(id), binary.BigEndian.Uint64(id[8:])
		if _, err := p.r.uint64LE(); err != nil { // delivery time
			return err
		}
		deliveries, err := p.r.count()
		if err != nil {
			return err
		}
		g.Pending(ms, seq, deliveries)
	}
	consumers, err := p.r.count()
	if err != nil {
		return err
	}
	for range consumers {
		cname, err := p.r.str()
		if err != nil {
			return err
		}
		g.Consumer(cname)
		times := 1 // seen time
		if t >= typeStreamListpacks3 {
			times = 2 // and active time
		}
		for range times {
			if _, err := p.r.uint64LE(); err != nil {
				return err
			}
		}
		n, err := p.r.count()
		if err != nil {
			return err
		}
		for range n {
			id, err := p.r.bytes(16)
			if err != nil {
				return err
			}
			g.ConsumerPending(binary.BigEndian.Uint64(id), binary.BigEndian.Uint64(id[8:]))
		}
	}
	p.value.Group(g)
	return nil
}
