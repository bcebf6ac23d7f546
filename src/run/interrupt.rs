//! Ctrl-C as a flag: long runs poll it, checkpoint and end cleanly. The
//! handler is installed once per process, whichever command asks first.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

static FLAG: OnceLock<Arc<AtomicBool>> = OnceLock::new();

/// The process's stop flag; set by Ctrl-C (SIGINT or SIGTERM).
pub fn stop_flag() -> Arc<AtomicBool> {
    FLAG.get_or_init(|| {
        let flag = Arc::new(AtomicBool::new(false));
        let handler = flag.clone();
        // Fails only when another handler exists; Ctrl-C then keeps its
        // default action, which loses nothing already written.
        let _ = ctrlc::set_handler(move || handler.store(true, Ordering::SeqCst));
        flag
    })
    .clone()
}

pub fn stop_requested() -> bool {
    FLAG.get().is_some_and(|f| f.load(Ordering::SeqCst))
}
