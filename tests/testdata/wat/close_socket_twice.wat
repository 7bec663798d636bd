;; Closes the socket at fd 3 twice, then asks fd_fdstat_get about it. The
;; exit code is errno(first close)*100 + errno(second close)*10 +
;; (fdstat errno == 8 ? 0 : 1): a conforming run exits 0*100 + 8*10 + 0 = 80.
(module
  (import "wasi_snapshot_preview1" "fd_close" (func $close (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_fdstat_get" (func $stat (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (call $exit
      (i32.add
        (i32.add
          (i32.mul (call $close (i32.const 3)) (i32.const 100))
          (i32.mul (call $close (i32.const 3)) (i32.const 10)))
        (i32.ne (call $stat (i32.const 3) (i32.const 64)) (i32.const 8))))))
