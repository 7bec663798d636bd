package runtime

import (
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// locator finds the line of a key in TOML source, for error messages.
// BurntSushi/toml reports positions for syntax and type errors but not for
// keys that decoded cleanly and failed validation later, so Keep indexes the
// source lines itself, once: top-level keys, [table] and [[array]] headers,
// dotted and quoted keys. Lookups are map reads, so a large config costs
// one pass, not one pass per key.
type locator struct {
	keys   map[string]int // "env.A", "files[1].port", "files.port" (first) → line
	tables map[string]int // "files[1]" → line of its header
}

func newLocator(src string) *locator {
	l := &locator{keys: map[string]int{}, tables: map[string]int{}}
	counts := map[string]int{}
	table, instance := "", ""
	for n, line := range strings.Split(src, "\n") {
		if h, array, ok := header(line); ok {
			table, instance = h, h
			if array {
				instance = h + "[" + strconv.Itoa(counts[h]) + "]"
				counts[h]++
			}
			l.first(l.tables, instance, n+1)
			l.first(l.keys, h, n+1)
			continue
		}
		k, ok := keyName(line)
		if !ok {
			continue
		}
		if table == "" {
			l.first(l.keys, k, n+1)
			continue
		}
		l.first(l.keys, table+"."+k, n+1)
		l.first(l.keys, instance+"."+k, n+1)
	}
	return l
}

func (l *locator) first(m map[string]int, k string, line int) {
	if _, ok := m[k]; !ok {
		m[k] = line
	}
}

// header returns the table header of a line ("files" for "[[files]]") and
// whether it is an array header; ok is false for other lines.
func header(line string) (name string, array, ok bool) {
	l := strings.TrimSpace(line)
	if i := strings.Index(l, "#"); i >= 0 && !strings.ContainsAny(l[:i], `"'`) {
		l = strings.TrimSpace(l[:i])
	}
	switch {
	case strings.HasPrefix(l, "[[") && strings.HasSuffix(l, "]]"):
		return strings.TrimSpace(l[2 : len(l)-2]), true, true
	case strings.HasPrefix(l, "[") && strings.HasSuffix(l, "]"):
		return strings.TrimSpace(l[1 : len(l)-1]), false, true
	}
	return "", false, false
}

// keyName returns the (possibly dotted, possibly quoted) key a
// "key = value" line defines, with quotes removed; ok is false for other
// lines.
func keyName(line string) (key string, ok bool) {
	l := strings.TrimSpace(line)
	if l == "" || l[0] == '#' || l[0] == '[' {
		return "", false
	}
	var parts []string
	var cur strings.Builder
	for i := 0; i < len(l); i++ {
		switch c := l[i]; c {
		case '"', '\'':
			j := strings.IndexByte(l[i+1:], c)
			if j < 0 {
				return "", false
			}
			cur.WriteString(l[i+1 : i+1+j])
			i += j + 1
		case '.':
			parts = append(parts, strings.TrimSpace(cur.String()))
			cur.Reset()
		case '=':
			parts = append(parts, strings.TrimSpace(cur.String()))
			return strings.Join(parts, "."), true
		default:
			cur.WriteByte(c)
		}
	}
	return "", false
}

// key returns the line (1-based) where key is first defined, or 0.
func (l *locator) key(key toml.Key) int { return l.keys[strings.Join(key, ".")] }

// keyIn returns the line of key inside the i-th [[name]] table, falling
// back to the table's header.
func (l *locator) keyIn(name string, i int, key string) int {
	inst := name + "[" + strconv.Itoa(i) + "]"
	if n, ok := l.keys[inst+"."+key]; ok {
		return n
	}
	return l.table(name, i)
}

// table returns the line of the i-th [[name]] header, or of name itself.
func (l *locator) table(name string, i int) int {
	if n, ok := l.tables[name+"["+strconv.Itoa(i)+"]"]; ok {
		return n
	}
	return l.keys[name]
}
