package runtime

import (
	"strings"

	"github.com/BurntSushi/toml"
)

// locator finds the line of a key in TOML source, for error messages.
// BurntSushi/toml reports positions for syntax and type errors but not for
// keys that decoded cleanly and failed validation later, so Keep scans the
// source lines itself. It understands the layouts Enarx.toml uses: top-level
// keys, [table] and [[array]] headers, and dotted keys.
type locator struct {
	lines []string
}

func newLocator(src string) *locator {
	return &locator{lines: strings.Split(src, "\n")}
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

// keyName returns the (possibly dotted) key a "key = value" line defines.
func keyName(line string) string {
	l := strings.TrimSpace(line)
	i := strings.Index(l, "=")
	if i <= 0 || strings.HasPrefix(l, "#") {
		return ""
	}
	k := strings.TrimSpace(l[:i])
	parts := strings.Split(k, ".")
	for j := range parts {
		parts[j] = strings.Trim(strings.TrimSpace(parts[j]), `"'`)
	}
	return strings.Join(parts, ".")
}

// key returns the line (1-based) where key is defined, or 0.
func (l *locator) key(key toml.Key) int {
	table := ""
	for n, line := range l.lines {
		if h, _, ok := header(line); ok {
			table = h
			if h == strings.Join(key, ".") {
				return n + 1
			}
			continue
		}
		k := keyName(line)
		if k == "" {
			continue
		}
		full := k
		if table != "" {
			full = table + "." + k
		}
		if full == strings.Join(key, ".") {
			return n + 1
		}
	}
	// An unknown key inside an array of tables (files.bogus): point at it
	// in whichever entry defines it.
	if len(key) > 1 {
		for n, line := range l.lines {
			if h, _, ok := header(line); ok {
				table = h
				continue
			}
			if table == strings.Join(key[:len(key)-1], ".") && keyName(line) == key[len(key)-1] {
				return n + 1
			}
		}
	}
	return 0
}

// table returns the line of the i-th [[name]] header, or 0.
func (l *locator) table(name string, i int) int {
	seen := 0
	for n, line := range l.lines {
		if h, array, ok := header(line); ok && array && h == name {
			if seen == i {
				return n + 1
			}
			seen++
		}
	}
	return l.key(toml.Key{name})
}
