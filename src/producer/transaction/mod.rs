//! Transactions: the shared [`state`], the transaction manager on the I/O thread
//! ([`manager`]) and the requests it sends ([`requests`]).

mod manager;
mod requests;
mod state;

pub(crate) use manager::{TxnCommand, TxnCtx, TxnManager};
pub(crate) use requests::ProduceV12;
pub(crate) use state::{TxnShared, TxnState};
