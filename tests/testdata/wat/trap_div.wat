;; trap_div: _start divides an integer by zero (the divisor comes from
;; memory so that it is not a constant).
(module
  (memory (export "memory") 1)
  (func (export "_start")
    (drop (i32.div_u (i32.const 1) (i32.load (i32.const 0))))))
