;; memory10: declares a 10-page (640 KiB) memory and does nothing.
(module
  (memory (export "memory") 10)
  (func (export "_start")))
