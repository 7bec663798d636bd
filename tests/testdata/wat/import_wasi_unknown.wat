;; import_wasi_unknown: imports a name that is not part of WASI preview1.
(module
  (import "wasi_snapshot_preview1" "no_such_call" (func $x (result i32)))
  (memory (export "memory") 1)
  (func (export "_start") (drop (call $x))))
