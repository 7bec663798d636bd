;; grow: starts with one page and grows memory by 4 pages. It exits 3 when
;; memory.grow fails (returns -1) and 4 when it succeeds.
(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (if (i32.eq (memory.grow (i32.const 4)) (i32.const -1))
      (then (call $proc_exit (i32.const 3)))
      (else (call $proc_exit (i32.const 4))))))
