//! The state requests are served from, replaceable while the server runs (config reload).
//!
//! Each request takes the current [`AppState`] when it starts and keeps it to its end, so a
//! reload never changes a request (or a stream) half-way; new requests see the new state.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use axum::extract::FromRef;

use crate::state::AppState;

#[derive(Clone)]
pub struct Live {
    current: Arc<RwLock<AppState>>,
    shutting_down: Arc<AtomicBool>,
}

impl Live {
    pub fn new(state: AppState) -> Self {
        Live {
            current: Arc::new(RwLock::new(state)),
            shutting_down: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The state new requests are served from.
    pub fn current(&self) -> AppState {
        match self.current.read() {
            Ok(state) => state.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Serves new requests from `state`. Refused once shutdown has begun (the draining
    /// state must stay the one `/readyz` reports).
    pub fn replace(&self, state: AppState) -> bool {
        if self.shutting_down.load(Ordering::Relaxed) {
            return false;
        }
        match self.current.write() {
            Ok(mut current) => *current = state,
            Err(poisoned) => *poisoned.into_inner() = state,
        }
        true
    }

    /// Shutdown has begun: the current state drains, and no reload replaces it.
    pub fn begin_shutdown(&self) -> AppState {
        self.shutting_down.store(true, Ordering::Relaxed);
        let state = self.current();
        state.inner.draining.store(true, Ordering::Relaxed);
        state
    }
}

impl FromRef<Live> for AppState {
    fn from_ref(live: &Live) -> AppState {
        live.current()
    }
}
