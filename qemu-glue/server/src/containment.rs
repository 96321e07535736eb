//! Panic containment per device operation.
//!
//! A panic inside the device model is a tunic bug, but the guest and its
//! driver must not pay for it with the whole port: the operation that panicked
//! is abandoned, the device shows the failure the way silicon shows an internal
//! error ([`Personality::contain_fault`]: queues stopped or NEEDS_RESET, and
//! `device_faults` counted), the connection stays up, and the log says it is a
//! device bug, with the panic's message, location and backtrace.

use std::backtrace::Backtrace;
use std::cell::{Cell, RefCell};
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Once;

use device_model::Personality;

thread_local! {
    /// Set while this thread runs a contained operation.
    static CONTAINING: Cell<bool> = const { Cell::new(false) };
    /// What the panic hook saw of the last contained panic on this thread.
    static LAST_PANIC: RefCell<Option<(String, Backtrace)>> = const { RefCell::new(None) };
}

/// Contained panics in this process, all devices together.
static FAULTS: AtomicU64 = AtomicU64::new(0);

/// How many device operations have panicked and been contained so far.
pub fn contained_faults() -> u64 {
    FAULTS.load(Ordering::Relaxed)
}

/// Routes panics inside contained operations to [`contained`]'s log line instead
/// of stderr; any other panic gets the default report.
fn install_hook() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !CONTAINING.with(Cell::get) {
                return default(info);
            }
            let what = info
                .payload()
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_default();
            let at = info.location().map(|l| l.to_string()).unwrap_or_default();
            let trace = Backtrace::force_capture();
            LAST_PANIC.with(|p| *p.borrow_mut() = Some((format!("{what} at {at}"), trace)));
        }));
    });
}

/// Runs `op` on the device; if it panics, contains the fault and returns `None`.
/// `what` names the operation for the log ("BAR0 write at 0x3818").
pub fn contained<R>(
    device: &mut dyn Personality,
    what: impl FnOnce() -> String,
    op: impl FnOnce(&mut dyn Personality) -> R,
) -> Option<R> {
    install_hook();
    // Should operations ever nest, the inner one must not end the outer one's
    // containment.
    let outer = CONTAINING.with(|c| c.replace(true));
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| op(&mut *device)));
    CONTAINING.with(|c| c.set(outer));
    match outcome {
        Ok(r) => Some(r),
        Err(_) => {
            FAULTS.fetch_add(1, Ordering::Relaxed);
            let (panic, trace) = LAST_PANIC
                .with(|p| p.borrow_mut().take())
                .unwrap_or_else(|| ("(no message)".into(), Backtrace::disabled()));
            tracing::error!(
                operation = %what(),
                "device model bug contained: {panic}; the device stopped its queues \
                 (device_faults counts it), the port stays up\n{trace}"
            );
            // contain_fault is simple state-setting; should it panic too, the port
            // still stays up.
            let _ = std::panic::catch_unwind(AssertUnwindSafe(|| device.contain_fault()));
            None
        }
    }
}
