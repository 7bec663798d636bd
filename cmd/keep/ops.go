package main

import (
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/keepwasm/keep/health"
	"github.com/keepwasm/keep/keeps/tdx/rtmr"
	"github.com/keepwasm/keep/metrics"
	"github.com/keepwasm/keep/metrics/prom"
	"github.com/keepwasm/keep/runtime"
)

// defaultDrainTimeout is --drain-timeout's default: shorter than
// Kubernetes' default terminationGracePeriodSeconds (30 s), so that keep
// stops its guest itself before the kubelet's SIGKILL.
const defaultDrainTimeout = 25 * time.Second

// defaultEventLog is where keep run keeps the RTMR3 event log on TDX.
const defaultEventLog = "/run/keep/rtmr3.log"

// rtmr3Path is the TD's RTMR3 in sysfs (a variable for tests of the CLI).
var rtmr3Path = rtmr.SysfsRTMR3

// opsFlags are keep run's operability flags.
type opsFlags struct {
	healthAddr   string
	drainTimeout time.Duration
	eventLog     string
}

func addOpsFlags(fs *flag.FlagSet) *opsFlags {
	o := &opsFlags{}
	fs.StringVar(&o.healthAddr, "health-addr", "", "serve /healthz, /readyz, /metrics (and /eventlog on TDX) over plain HTTP on `ADDR` (host:port)")
	fs.DurationVar(&o.drainTimeout, "drain-timeout", defaultDrainTimeout, "on SIGTERM, stop accepting and wait this `long` for open connections before stopping the module (0: stop at once)")
	fs.StringVar(&o.eventLog, "event-log", defaultEventLog, "on TDX, the RTMR3 event log `FILE` (see docs/RTMR-EVENT-LOG.md)")
	return o
}

// check refuses bad values, before anything is read or started.
func (o *opsFlags) check() error {
	if o.drainTimeout < 0 {
		return usageError{fmt.Sprintf("--drain-timeout %v: must not be negative", o.drainTimeout)}
	}
	return nil
}

// ops is what keep run serves and counts besides the guest.
type ops struct {
	ctl *runtime.Control
	// sink is the Prometheus registry behind /metrics, or Discard
	// without --health-addr: nothing to count for.
	sink metrics.Sink
	stop func()
}

// startOps checks the flags, prepares the run's Control and metrics, makes
// SIGTERM drain a keep that has listeners, and starts the health server.
func (c *cli) startOps(o *opsFlags, cfg *runtime.Config, tdx bool) (*ops, error) {
	var listeners []string
	if cfg != nil {
		for _, f := range cfg.Files {
			if f.Kind == runtime.KindListen {
				listeners = append(listeners, f.Name)
			}
		}
	}
	p := &ops{ctl: runtime.NewControl(), sink: metrics.Discard(), stop: func() {}}
	if len(listeners) > 0 && o.drainTimeout > 0 {
		c.drain, c.drainTimeout = p.ctl.Drain, o.drainTimeout
	}
	if o.healthAddr == "" {
		return p, nil
	}
	reg := prom.New(listeners...)
	p.sink = reg
	srv := &health.Server{Status: func() health.Status { return healthStatus(p.ctl.Status()) }, Metrics: reg.Handler()}
	if tdx {
		srv.EventLog = func() ([]byte, error) { return rtmr.ReadFile(o.eventLog) }
	}
	addr, stop, err := health.Listen(o.healthAddr, srv)
	if err != nil {
		return nil, fmt.Errorf("--health-addr %s: %w", o.healthAddr, unwrapPath(err))
	}
	p.stop = stop
	fmt.Fprintf(c.stderr, "keep: health: listening on %s\n", addr)
	return p, nil
}

func healthStatus(st runtime.Status) health.Status {
	h := health.Status{Phase: string(st.Phase)}
	for _, l := range st.Listeners {
		h.Listeners = append(h.Listeners, health.Listener{Name: l.Name, Accepting: l.Accepting})
	}
	return h
}

// measureRTMR3 extends RTMR3 with the module's and the config's digests
// and logs them (keeps/tdx/rtmr). Without the sysfs register (not Linux
// 6.16+) it warns and goes on: the quote then simply has no such events.
func (c *cli) measureRTMR3(logPath string, module runtime.Digest, cfg *runtime.Config) error {
	conf := "none"
	if cfg != nil {
		conf = runtime.Digest(cfg.Digest).String()
	}
	mod, err := rtmr.NewEvent(rtmr.DomainKeep, rtmr.OpModule, module.String())
	if err != nil {
		return err
	}
	cf, err := rtmr.NewEvent(rtmr.DomainKeep, rtmr.OpConfig, conf)
	if err != nil {
		return err
	}
	l := &rtmr.Log{Path: logPath, Register: rtmr.Sysfs{Path: rtmr3Path}, Warn: func(msg string) {
		fmt.Fprintf(c.stderr, "keep: warning: RTMR3 event log %s\n", msg)
	}}
	if err := l.Measure(mod, cf); err != nil {
		if errors.Is(err, rtmr.ErrUnavailable) {
			fmt.Fprintf(c.stderr, "keep: warning: RTMR3 not extended: %v\n", err)
			return nil
		}
		return fmt.Errorf("RTMR3: %w", err)
	}
	c.log.Info("RTMR3 extended", "log", logPath, "module", module.String(), "config", conf)
	return nil
}
