;; sleep: writes "sleeping\n" to stdout, sleeps argv[1] milliseconds with a
;; poll_oneoff clock subscription, writes "woke\n" and exits 0 (or 1 when
;; poll_oneoff fails).
(module
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_get" (func $args_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll_oneoff (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  ;; 0: argc, 4: argv buf size, 8: iovec, 16: nwritten, 20: nevents,
  ;; 32..: argv pointers, 256: subscription (48 bytes), 512: event (32 bytes),
  ;; 768: "sleeping\n", 784: "woke\n", 1024..: argv strings
  (data (i32.const 768) "sleeping\n")
  (data (i32.const 784) "woke\n")
  (func $atoi (param $p i32) (result i64)
    (local $n i64) (local $c i32)
    (block $done
      (loop $next
        (local.set $c (i32.load8_u (local.get $p)))
        (br_if $done (i32.lt_u (local.get $c) (i32.const 48)))
        (br_if $done (i32.gt_u (local.get $c) (i32.const 57)))
        (local.set $n (i64.add (i64.mul (local.get $n) (i64.const 10))
                               (i64.extend_i32_u (i32.sub (local.get $c) (i32.const 48)))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $next)))
    (local.get $n))
  (func $write (param $p i32) (param $n i32)
    (i32.store (i32.const 8) (local.get $p))
    (i32.store (i32.const 12) (local.get $n))
    (drop (call $fd_write (i32.const 1) (i32.const 8) (i32.const 1) (i32.const 16))))
  (func (export "_start")
    (local $ms i64)
    (if (call $args_sizes_get (i32.const 0) (i32.const 4)) (then unreachable))
    (if (i32.ge_u (i32.load (i32.const 0)) (i32.const 2))
      (then
        (if (call $args_get (i32.const 32) (i32.const 1024)) (then unreachable))
        (local.set $ms (call $atoi (i32.load (i32.const 36))))))
    (call $write (i32.const 768) (i32.const 9))
    ;; subscription: userdata 0, tag 0 (clock), clock id 1 (monotonic),
    ;; relative timeout in ns, precision 0, flags 0.
    (i64.store (i32.const 256) (i64.const 0))
    (i32.store8 (i32.const 264) (i32.const 0))
    (i32.store (i32.const 272) (i32.const 1))
    (i64.store (i32.const 280) (i64.mul (local.get $ms) (i64.const 1000000)))
    (i64.store (i32.const 288) (i64.const 0))
    (i32.store16 (i32.const 296) (i32.const 0))
    (if (call $poll_oneoff (i32.const 256) (i32.const 512) (i32.const 1) (i32.const 20))
      (then (call $proc_exit (i32.const 1))))
    (call $write (i32.const 784) (i32.const 5))))
