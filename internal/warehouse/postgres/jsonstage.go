package postgres

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/shp-dev/shp/internal/format"
)

// jsonKey is a top-level key some record has.
type jsonKey struct {
	name  string
	guess jsonGuess
}

// stageJSON reads JSON Lines or a JSON array twice, as format.NormalizeJSON
// splits it into records (so that the records counted are the records
// read): once for the keys the records have, once to load them. Records
// that are not JSON objects are set aside with NormalizeJSON's reason.
func (s *stager) stageJSON(ctx context.Context, declared []declaredColumn) error {
	lines := s.spec.Format == format.JSONL
	s.hasLine = true
	// Pass 1: the keys, in the order they first appear, and their types.
	var keys []*jsonKey
	byName := map[string]*jsonKey{}
	var members []jsonMember
	good, err := s.readJSON(lines, func(line int64, rec []byte) error {
		var err error
		members, err = splitObject(rec, members[:0])
		if err != nil {
			return fmt.Errorf("record %d: %w", line, err)
		}
		for _, m := range members {
			if m.key == format.LineField {
				continue
			}
			k := byName[m.key]
			if k == nil {
				k = &jsonKey{name: m.key}
				byName[k.name] = k
				keys = append(keys, k)
			}
			k.guess.add(m)
		}
		return nil
	}, nil)
	if err != nil {
		return err
	}
	// The staging columns, and the key each is read from (-1: none).
	var from []int
	if len(declared) == 0 {
		for i, k := range keys {
			c, err := s.newColumn(k.name, k.guess.result(), nil)
			if err != nil {
				return err
			}
			s.cols = append(s.cols, c)
			from = append(from, i)
		}
	} else {
		keyOf := map[string]int{}
		for i, k := range keys {
			keyOf[k.name] = i
		}
		for i, k := range keys {
			if _, ok := keyOf[strings.ToLower(k.name)]; !ok {
				keyOf[strings.ToLower(k.name)] = i
			}
		}
		used := map[int]bool{}
		for _, d := range declared {
			name := d.Name
			for f, to := range s.spec.Rename {
				if strings.EqualFold(to, d.Name) {
					name = f
				}
			}
			i, ok := keyOf[name]
			if !ok {
				i, ok = keyOf[strings.ToLower(name)]
			}
			c, err := s.newColumn(d.Name, d.Type, nil)
			if err != nil {
				return err
			}
			s.cols = append(s.cols, c)
			if ok && good > 0 {
				from = append(from, i)
				used[i] = true
			} else {
				from = append(from, -1)
			}
		}
		if good > 0 {
			for i, k := range keys {
				if _, ok := lookup(declared, s.fileName(k.name)); !ok && !used[i] {
					g := s.noteExtra(k.name)
					*g = typeGuessOf(k.guess.result())
				}
			}
			for i, d := range declared {
				if from[i] < 0 {
					s.noteMissing(d.Name)
				}
			}
		}
	}
	if err := s.create(ctx); err != nil {
		return err
	}
	// Pass 2: convert and load.
	var reasons []string
	byKey := make(map[string]int, len(keys))
	for i, k := range keys {
		byKey[k.name] = i
	}
	rowMembers := make([]int, len(keys)) // member index by key, -1 when absent
	_, err = s.readJSON(lines, func(line int64, rec []byte) error {
		var err error
		members, err = splitObject(rec, members[:0])
		if err != nil {
			return fmt.Errorf("record %d: %w", line, err)
		}
		for i := range rowMembers {
			rowMembers[i] = -1
		}
		for j, m := range members {
			if i, ok := byKey[m.key]; ok {
				rowMembers[i] = j
			}
		}
		s.arena = s.arena[:0]
		reasons = reasons[:0]
		for ci, c := range s.cols {
			s.vals[ci] = val{null: true}
			k := from[ci]
			if k < 0 || rowMembers[k] < 0 {
				continue
			}
			m := members[rowMembers[k]]
			var text string
			if c.t.kind == kJSONB && len(declared) == 0 {
				if m.kind == jsNull {
					continue
				}
				text = m.raw
			} else {
				var ok bool
				if text, ok = jsonText(m); !ok {
					continue
				}
			}
			if ok, detail := c.convert(text, &s.vals[ci], &s.arena); !ok {
				s.vals[ci] = val{null: true}
				reasons = append(reasons, castReason(c.name, c.t, text, detail, false))
			}
		}
		if len(reasons) > 0 {
			return s.badRow(ctx, line, strings.Join(reasons, "; "), s.jsonRowText(members, rowMembers, from, keys), true)
		}
		return s.goodRow(ctx, line)
	}, func(n int64, raw []byte, reason string) error {
		return s.badRow(ctx, n, reason, raw, true)
	})
	return err
}

// typeGuessOf is a typeGuess that settles on t, for an extra JSON key
// whose type jsonGuess inferred.
func typeGuessOf(t colType) typeGuess {
	g := typeGuess{seen: true}
	switch t.kind {
	case kBool:
		return g
	case kInt64:
		g.notBool = true
	case kFloat64:
		g.notBool, g.notInt = true, true
	case kDate:
		g.notBool, g.notInt, g.notDouble, g.notTime = true, true, true, true
	case kTime:
		g.notBool, g.notInt, g.notDouble = true, true, true
	default:
		g.notBool, g.notInt, g.notDouble, g.notTime, g.notDate, g.notTimestamp = true, true, true, true, true, true
	}
	return g
}

// jsonRowText is the raw text of a JSON record shp's conversion set
// aside, as the DuckDB warehouse writes it: the columns the file has, each
// as the text it was read as.
func (s *stager) jsonRowText(members []jsonMember, rowMembers, from []int, keys []*jsonKey) []byte {
	b := append(s.json[:0], '{')
	first := true
	for _, k := range from {
		if k < 0 {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendJSONString(b, keys[k].name)
		b = append(b, ':')
		if rowMembers[k] < 0 {
			b = append(b, "null"...)
			continue
		}
		if text, ok := jsonText(members[rowMembers[k]]); ok {
			b = appendJSONString(b, text)
		} else {
			b = append(b, "null"...)
		}
	}
	b = append(b, '}')
	s.json = b
	return b
}

// readJSON runs format.NormalizeJSON over the file: each good record
// (with its line) goes to rec, each bad one to bad (nil: ignored). It
// returns how many records were good.
func (s *stager) readJSON(lines bool, rec func(line int64, b []byte) error, bad func(n int64, raw []byte, reason string) error) (int64, error) {
	r, err := s.open()
	if err != nil {
		return 0, err
	}
	defer r.Close()
	if bad == nil {
		bad = func(int64, []byte, string) error { return nil }
	}
	prefix := []byte(`{"` + format.LineField + `":`)
	good, _, err := format.NormalizeJSON(r, recordFunc(func(b []byte) error {
		if !bytes.HasPrefix(b, prefix) {
			return fmt.Errorf("unexpected normalised record")
		}
		rest := b[len(prefix):]
		end := bytes.IndexAny(rest, ",}")
		if end < 0 {
			return fmt.Errorf("unexpected normalised record")
		}
		line, err := strconv.ParseInt(string(rest[:end]), 10, 64)
		if err != nil {
			return fmt.Errorf("unexpected normalised record: %w", err)
		}
		return rec(line, b)
	}), lines, func(n int64, raw []byte, reason string) error {
		return bad(n, raw, reason)
	})
	if err != nil {
		return good, fmt.Errorf("read json: %w", err)
	}
	return good, nil
}
