// Package rtmr measures a keep's workload into a TDX runtime measurement
// register (RTMR3) and keeps the event log that lets a verifier replay it.
//
// Linux 6.16 and later expose the TD's measurement registers in sysfs
// (Documentation/ABI/testing/sysfs-devices-virtual-misc-tdx_guest):
// /sys/devices/virtual/misc/tdx_guest/measurements/rtmr[0123]:sha384,
// also reachable as /sys/class/misc/tdx_guest/measurements/…, are "(RW)
// RTMR[0123] - 4 Run-Time extendable Measurement Registers": a read
// returns the register's current 48 bytes; a write of exactly 48 bytes at
// offset 0 extends the register with them (TDG.MR.RTMR.EXTEND:
// new = SHA-384(old ‖ data)); any other write fails with EINVAL.
//
// It owns:
//
//   - Register and Sysfs (sysfs.go): reading and extending one register
//     through that file, whose path is injectable for tests.
//   - The event log format (log.go; docs/RTMR-EVENT-LOG.md): JSON lines,
//     an optional "init" entry with the register's value when the log
//     began, then one entry per extend: domain, operation, content and
//     the SHA-384 of "domain operation content", the value extended.
//   - Log.Measure: appends events and extends the register under a file
//     lock, starting the log afresh (from an init entry) when it no longer
//     replays to the register.
//   - ParseLog and Replay: what a verifier does with a log and the RTMR3
//     value of a quote.
//
// Imports: the standard library only. It must not import netattest,
// runtime, wasi, another backend, or keeps/tdx itself (which pulls in
// go-tdx-guest); keeps/tdx does not import it either.
package rtmr
