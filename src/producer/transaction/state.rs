//! The transactional producer's state, shared by the user's threads (which move it on
//! `begin`/`commit`/`abort` and check it on every `send`) and the I/O thread (which
//! finishes what they start and records errors), as the Java client's
//! `TransactionManager.State`.
//!
//! ```text
//! Uninitialized -> Initializing -> Ready -> InTransaction -> Committing -> Ready
//!                                           InTransaction -> Aborting   -> Ready
//!          InTransaction | Committing -> AbortableError -> Aborting -> Ready
//!                                 any -> FatalError
//! ```

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Mutex;

use crate::error::{Error, Result};

/// Where the transactional producer is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum TxnState {
    Uninitialized = 0,
    Initializing,
    Ready,
    InTransaction,
    Committing,
    Aborting,
    AbortableError,
    FatalError,
}

impl TxnState {
    fn from_u8(v: u8) -> TxnState {
        match v {
            0 => TxnState::Uninitialized,
            1 => TxnState::Initializing,
            2 => TxnState::Ready,
            3 => TxnState::InTransaction,
            4 => TxnState::Committing,
            5 => TxnState::Aborting,
            6 => TxnState::AbortableError,
            _ => TxnState::FatalError,
        }
    }

    fn name(self) -> &'static str {
        match self {
            TxnState::Uninitialized => "not initialized (call init_transactions first)",
            TxnState::Initializing => "initializing",
            TxnState::Ready => "ready, with no open transaction (call begin_transaction)",
            TxnState::InTransaction => "in a transaction",
            TxnState::Committing => "committing a transaction",
            TxnState::Aborting => "aborting a transaction",
            TxnState::AbortableError => "in an abortable error",
            TxnState::FatalError => "in a fatal error",
        }
    }
}

/// The state and the error that put it in `AbortableError` or `FatalError`.
pub(crate) struct TxnShared {
    state: AtomicU8,
    error: Mutex<Option<Error>>,
    /// A commit (1) or abort (2) call timed out while its operation went on: repeating
    /// the call after the operation ended answers with its outcome.
    timed_out_end: AtomicU8,
}

impl Default for TxnShared {
    fn default() -> Self {
        TxnShared {
            state: AtomicU8::new(TxnState::Uninitialized as u8),
            error: Mutex::new(None),
            timed_out_end: AtomicU8::new(0),
        }
    }
}

impl TxnShared {
    pub fn state(&self) -> TxnState {
        TxnState::from_u8(self.state.load(Ordering::SeqCst))
    }

    /// Moves from one of `from` to `to`; returns the state it left. In any other state,
    /// the error of that state (abortable or fatal) or `IllegalState` naming `call`.
    pub fn transition(&self, from: &[TxnState], to: TxnState, call: &str) -> Result<TxnState> {
        let mut current = self.state.load(Ordering::SeqCst);
        loop {
            let state = TxnState::from_u8(current);
            if !from.contains(&state) {
                return Err(self.refusal(state, call));
            }
            match self
                .state
                .compare_exchange(current, to as u8, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => return Ok(state),
                Err(actual) => current = actual,
            }
        }
    }

    /// The error for `call` made in `state`.
    pub fn refusal(&self, state: TxnState, call: &str) -> Error {
        match state {
            TxnState::AbortableError | TxnState::FatalError => {
                if let Some(e) = self.error() {
                    return e;
                }
            }
            _ => {}
        }
        Error::IllegalState(format!(
            "{call} is not allowed while the transactional producer is {}",
            state.name()
        ))
    }

    /// `send` is allowed only inside a transaction.
    pub fn check_send(&self) -> Result<()> {
        match self.state() {
            TxnState::InTransaction => Ok(()),
            state => Err(self.refusal(state, "send")),
        }
    }

    /// The open transaction cannot commit: it must be aborted. Ignored unless a
    /// transaction is open or committing (an abort in progress expects failures).
    pub fn set_abortable(&self, cause: Error) {
        let err = if cause.is_abortable() || cause.is_fatal() {
            cause
        } else {
            Error::TransactionAbortable {
                cause: Box::new(cause),
            }
        };
        if err.is_fatal() {
            return self.set_fatal(err);
        }
        let mut slot = lock(&self.error);
        let moved = [TxnState::InTransaction, TxnState::Committing]
            .iter()
            .any(|from| {
                self.state
                    .compare_exchange(
                        *from as u8,
                        TxnState::AbortableError as u8,
                        Ordering::SeqCst,
                        Ordering::SeqCst,
                    )
                    .is_ok()
            });
        if moved {
            log::warn!("the transaction must be aborted: {err}");
            *slot = Some(err);
        }
    }

    /// The producer cannot go on.
    pub fn set_fatal(&self, err: Error) {
        let err = if err.is_fatal() {
            err
        } else {
            Error::TransactionFatal {
                cause: Box::new(err),
            }
        };
        let mut slot = lock(&self.error);
        if self.state() != TxnState::FatalError {
            log::error!("transactional producer failed for good: {err}");
            *slot = Some(err);
            self.state
                .store(TxnState::FatalError as u8, Ordering::SeqCst);
        }
    }

    /// Sets the state (the I/O thread finishing an operation).
    pub fn set(&self, to: TxnState) {
        let mut slot = lock(&self.error);
        if self.state() == TxnState::FatalError {
            return;
        }
        if to != TxnState::AbortableError {
            *slot = None;
        }
        self.state.store(to as u8, Ordering::SeqCst);
    }

    /// Notes that a commit (or abort) call returned `Timeout` with its operation still
    /// going on.
    pub fn end_timed_out(&self, commit: bool) {
        self.timed_out_end
            .store(if commit { 1 } else { 2 }, Ordering::SeqCst);
    }

    /// True if the previous commit (or abort) call timed out and its operation has since
    /// completed successfully (the producer is ready again); clears the note.
    pub fn timed_out_end_succeeded(&self, commit: bool) -> bool {
        let mark = if commit { 1 } else { 2 };
        let noted = self.timed_out_end.swap(0, Ordering::SeqCst);
        noted == mark && self.state() == TxnState::Ready
    }

    pub fn error(&self) -> Option<Error> {
        lock(&self.error).clone()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_in_the_wrong_state_are_illegal() {
        let s = TxnShared::default();
        assert!(matches!(s.check_send(), Err(Error::IllegalState(_))));
        let e = s
            .transition(
                &[TxnState::Ready],
                TxnState::InTransaction,
                "begin_transaction",
            )
            .unwrap_err();
        assert!(e.to_string().contains("init_transactions"), "{e}");
        s.set(TxnState::Ready);
        let left = s.transition(&[TxnState::Ready], TxnState::InTransaction, "begin");
        assert!(matches!(left, Ok(TxnState::Ready)));
        assert!(s.check_send().is_ok());
    }

    #[test]
    fn abortable_errors_need_an_open_transaction_and_fatal_ones_stick() {
        let s = TxnShared::default();
        s.set(TxnState::Ready);
        s.set_abortable(Error::Closed);
        assert_eq!(s.state(), TxnState::Ready, "nothing to abort");
        s.set(TxnState::InTransaction);
        s.set_abortable(Error::Closed);
        assert_eq!(s.state(), TxnState::AbortableError);
        assert!(s.check_send().unwrap_err().is_abortable());
        let commit = s.transition(&[TxnState::InTransaction], TxnState::Committing, "commit");
        assert!(commit.unwrap_err().is_abortable());
        assert!(s
            .transition(&[TxnState::AbortableError], TxnState::Aborting, "abort")
            .is_ok());
        s.set(TxnState::Ready);
        assert!(s.error().is_none());

        s.set_fatal(Error::ProducerFenced("newer epoch".into()));
        s.set(TxnState::Ready);
        assert_eq!(s.state(), TxnState::FatalError);
        assert!(s.check_send().unwrap_err().is_fatal());
        s.set_abortable(Error::Closed);
        assert!(matches!(s.error(), Some(Error::ProducerFenced(_))));
    }
}
