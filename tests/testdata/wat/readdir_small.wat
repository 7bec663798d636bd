;; readdir_small: fd_readdir on the preopen at fd 3 (an empty directory)
;; with buffers shorter than a 24-byte dirent header, which must be filled
;; with the start of the next entry's header and reported full
;; (bufused = buf_len), as wasmtime does. Exits 0 when every check holds,
;; else the number of the first one that failed.
(module
  (import "wasi_snapshot_preview1" "fd_readdir"
    (func $fd_readdir (param i32 i32 i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  ;; 512: bufused; 1024..: the buffer, filled with 0xaa before each call
  (func $fail (param $cond i32) (param $code i32)
    (if (local.get $cond) (then (call $proc_exit (local.get $code)))))
  (func $fill
    (memory.fill (i32.const 1024) (i32.const 0xaa) (i32.const 4096)))
  (func (export "_start")
    ;; 1-4: an 8-byte buffer gets the first 8 bytes of "."'s header
    ;; (d_next = 1) and bufused 8; the byte after it is untouched.
    (call $fill)
    (call $fail (call $fd_readdir (i32.const 3) (i32.const 1024) (i32.const 8) (i64.const 0) (i32.const 512)) (i32.const 1))
    (call $fail (i32.ne (i32.load (i32.const 512)) (i32.const 8)) (i32.const 2))
    (call $fail (i64.ne (i64.load (i32.const 1024)) (i64.const 1)) (i32.const 3))
    (call $fail (i32.ne (i32.load8_u (i32.const 1032)) (i32.const 0xaa)) (i32.const 4))
    ;; 5-7: a 0-byte buffer: success, bufused 0, nothing written.
    (call $fill)
    (call $fail (call $fd_readdir (i32.const 3) (i32.const 1024) (i32.const 0) (i64.const 0) (i32.const 512)) (i32.const 5))
    (call $fail (i32.ne (i32.load (i32.const 512)) (i32.const 0)) (i32.const 6))
    (call $fail (i32.ne (i32.load8_u (i32.const 1024)) (i32.const 0xaa)) (i32.const 7))
    ;; 8-9: a large buffer holds "." and ".." whole: 24+1 + 24+2 bytes.
    (call $fail (call $fd_readdir (i32.const 3) (i32.const 1024) (i32.const 4096) (i64.const 0) (i32.const 512)) (i32.const 8))
    (call $fail (i32.ne (i32.load (i32.const 512)) (i32.const 51)) (i32.const 9))
    ;; 10-11: the second entry (".."), 23 bytes: its header but the last
    ;; byte (d_next = 2 first).
    (call $fill)
    (call $fail (call $fd_readdir (i32.const 3) (i32.const 1024) (i32.const 23) (i64.const 1) (i32.const 512)) (i32.const 10))
    (call $fail (i32.or (i32.ne (i32.load (i32.const 512)) (i32.const 23))
                        (i64.ne (i64.load (i32.const 1024)) (i64.const 2))) (i32.const 11))
    ;; 12-13: past the last entry (read after the one before it: wazero can
    ;; only go back to cookie 0), a small buffer gets bufused 0.
    (call $fail (call $fd_readdir (i32.const 3) (i32.const 1024) (i32.const 8) (i64.const 2) (i32.const 512)) (i32.const 12))
    (call $fail (i32.ne (i32.load (i32.const 512)) (i32.const 0)) (i32.const 13))
    (call $proc_exit (i32.const 0))))
