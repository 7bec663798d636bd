// Package tomlerr turns BurntSushi/toml decode errors into a line number
// and a one-line message. The library reports syntax errors as ParseError
// with a position, but type mismatches as plain errors whose text carries
// the line ("toml: line 2 (last key "args"): incompatible types: ...").
//
// It imports only BurntSushi/toml and the standard library; it must not
// import any other Keep package.
package tomlerr
