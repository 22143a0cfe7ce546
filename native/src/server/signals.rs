//! The main thread's loop: SIGINT and SIGTERM through `signal-hook-mio`, and the workers'
//! exit notices through a mio `Waker`. The first signal turns `/healthz` to 503 at once
//! and, after `--shutdown-delay` (during which the listeners still accept, so a balancer
//! has time to notice), asks every worker to drain; a second one exits the process at
//! once. SIGHUP, which kills a process that does not handle it, is handled and ignored:
//! reverb reloads nothing (a changed configuration takes a restart), and a terminal
//! hanging up or a habitual `kill -HUP` must not end a server that is serving.

use std::io;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token, Waker};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook_mio::v1_0::Signals;

use super::Control;

const SIGNALS: Token = Token(0);
const WORKER_EXIT: Token = Token(1);

/// Watches for signals and for workers finishing.
pub(crate) struct SignalWatch {
    poll: Poll,
    signals: Signals,
    waker: Arc<Waker>,
    first: Option<i32>,
    delay: Duration,
    /// Whether `--admin` serves `/healthz`, for the shutdown line to say so.
    admin: bool,
    /// After the first signal, while the shutdown delay runs: when it ends.
    stop_at: Option<Instant>,
}

impl SignalWatch {
    /// Installs the handlers. From here on SIGINT, SIGTERM and SIGHUP no longer kill the
    /// process: they are events.
    pub(crate) fn new(delay: Duration, admin: bool) -> io::Result<Self> {
        let poll = Poll::new()?;
        let mut signals = Signals::new([SIGINT, SIGTERM, SIGHUP])?;
        poll.registry()
            .register(&mut signals, SIGNALS, Interest::READABLE)?;
        let waker = Arc::new(Waker::new(poll.registry(), WORKER_EXIT)?);
        Ok(SignalWatch {
            poll,
            signals,
            waker,
            first: None,
            delay,
            admin,
            stop_at: None,
        })
    }

    /// What a worker wakes when it ends.
    pub(crate) fn waker(&self) -> Arc<Waker> {
        Arc::clone(&self.waker)
    }

    /// The name of the signal that stopped the server, if one did.
    pub(crate) fn signal_name(&self) -> Option<&'static str> {
        self.first.map(name)
    }

    /// Returns once all `workers` have finished. On the first signal (or when a worker
    /// ends on its own, which only a failure does) every worker is told to stop.
    pub(crate) fn wait(
        &mut self,
        control: &Control,
        wakers: &[Arc<Waker>],
        workers: usize,
    ) -> io::Result<()> {
        let mut events = Events::with_capacity(8);
        loop {
            if control.finished.load(Ordering::Acquire) >= workers {
                return Ok(());
            }
            if self.stop_at.is_some_and(|at| at <= Instant::now()) {
                self.stop_at = None;
                tracing::info!("shutdown delay over: no new connections, draining open ones");
                stop_all(control, wakers);
            }
            // Only while the shutdown delay runs is there a deadline: otherwise this
            // thread sleeps until a signal or a worker's end.
            let timeout = self
                .stop_at
                .map(|at| at.saturating_duration_since(Instant::now()));
            match self.poll.poll(&mut events, timeout) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            for event in &events {
                match event.token() {
                    SIGNALS => {
                        for signal in self.signals.pending() {
                            self.on_signal(signal, control, wakers);
                        }
                    }
                    WORKER_EXIT if control.finished.load(Ordering::Acquire) > 0 => {
                        // A worker that ends before a stop was asked for has failed: stop
                        // the others too, so the process reports it instead of limping on.
                        stop_all(control, wakers);
                    }
                    _ => {}
                }
            }
        }
    }

    fn on_signal(&mut self, signal: i32, control: &Control, wakers: &[Arc<Waker>]) {
        if signal == SIGHUP {
            tracing::info!(
                signal = "SIGHUP",
                "ignored: reverb reloads nothing; to change its configuration, restart it"
            );
            return;
        }
        if self.first.is_some() {
            // The user insists: no drain, no summary.
            eprintln!("reverb: second signal ({}), exiting now", name(signal));
            std::process::exit(128 + signal);
        }
        self.first = Some(signal);
        control.draining.store(true, Ordering::Release);
        if self.delay.is_zero() {
            tracing::info!(
                signal = name(signal),
                "shutting down: no new connections, draining open ones \
                 (signal again to exit now)"
            );
            stop_all(control, wakers);
        } else {
            let health = if self.admin {
                "/healthz says 503; "
            } else {
                ""
            };
            tracing::info!(
                signal = name(signal),
                delay_ms = self.delay.as_millis() as u64,
                "shutting down: {health}still accepting for the shutdown delay, then draining \
                 (signal again to exit now)"
            );
            self.stop_at = Some(Instant::now() + self.delay);
        }
    }
}

/// Asks every worker to stop accepting and drain (and `/healthz` to say 503).
pub(super) fn stop_all(control: &Control, wakers: &[Arc<Waker>]) {
    control.draining.store(true, Ordering::Release);
    if control.stopping.swap(true, Ordering::AcqRel) {
        return;
    }
    for waker in wakers {
        if let Err(e) = waker.wake() {
            tracing::error!(error = %e, "cannot wake an event loop");
        }
    }
}

fn name(signal: i32) -> &'static str {
    match signal {
        SIGINT => "SIGINT",
        SIGTERM => "SIGTERM",
        SIGHUP => "SIGHUP",
        _ => "signal",
    }
}
