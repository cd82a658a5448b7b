//! The background I/O thread: one `mio::Poll` loop per client that owns every socket.
//!
//! User handles talk to it through an [`IoHandle`]: commands go over a channel and one
//! shared `mio::Waker` wakes the loop. What a client does with the network lives in its
//! [`Driver`] (producer, consumer or admin).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mio::{Events, Poll, Token, Waker};

use crate::config::ClientConfig;
use crate::error::{Error, Result};
use crate::protocol::api::ApiKey;

use super::metadata::SharedMetadata;
use super::network::{Network, Response};

const WAKER: Token = Token(0);

/// The role-specific half of a client, run on the I/O thread.
pub(crate) trait Driver: Send + 'static {
    /// Commands from the user handles.
    type Command: Send + 'static;
    /// What the driver attaches to each request to recognise its response.
    type Ctx: Send + 'static;

    /// A command arrived from a user handle.
    fn on_command(&mut self, cmd: Self::Command, net: &mut Network<Self::Ctx>, now: Instant);

    /// A response (or the failure of a request) arrived.
    fn on_response(
        &mut self,
        ctx: Self::Ctx,
        result: Result<Response>,
        net: &mut Network<Self::Ctx>,
        now: Instant,
    );

    /// Called on every loop turn: send whatever is ready. Returns when it next needs to
    /// run even if nothing happens on the network.
    fn poll(&mut self, net: &mut Network<Self::Ctx>, now: Instant) -> Option<Instant>;

    /// Close was asked for: finish outstanding work. Returns true when done. Called on
    /// every loop turn after close until it returns true or the close deadline passes.
    fn poll_close(&mut self, _net: &mut Network<Self::Ctx>, _now: Instant) -> bool {
        true
    }

    /// The loop is exiting: fail whatever is still pending with `error`.
    fn on_exit(&mut self, _error: Error) {}

    /// APIs a broker must support, with the version range this driver speaks, for a
    /// connection to it to be usable (checked at the handshake).
    fn required_apis(&self) -> Vec<(ApiKey, i16, i16)> {
        Vec::new()
    }
}

enum Envelope<C> {
    Command(C),
    Close { deadline: Instant },
}

/// The user-side handle of an I/O thread.
pub(crate) struct IoHandle<C> {
    tx: Sender<Envelope<C>>,
    waker: Arc<Waker>,
    thread: Mutex<Option<IoThread>>,
    pub metadata: SharedMetadata,
}

impl<C: Send + 'static> IoHandle<C> {
    /// Starts the thread `kafka-io-<client_id>` running `driver`.
    pub fn spawn<D: Driver<Command = C>>(config: ClientConfig, driver: D) -> Result<Self> {
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let metadata = SharedMetadata::default();
        let config = Arc::new(config);
        let mut net = Network::new(
            poll.registry().try_clone()?,
            config.clone(),
            metadata.clone(),
        )?;
        for (api, min, max) in driver.required_apis() {
            net.require_api(api, min, max);
        }
        let (tx, rx) = mpsc::channel();
        // Dropped when the loop returns: `close` waits on it instead of polling the thread.
        let (done_tx, done) = mpsc::channel::<()>();
        let name = format!("kafka-io-{}", config.client_id);
        let handle = std::thread::Builder::new().name(name).spawn(move || {
            let _done = done_tx;
            run_guarded(poll, net, driver, rx)
        })?;
        Ok(IoHandle {
            tx,
            waker,
            thread: Mutex::new(Some(IoThread { handle, done })),
            metadata,
        })
    }

    /// Sends a command and wakes the loop.
    pub fn send(&self, cmd: C) -> Result<()> {
        self.tx
            .send(Envelope::Command(cmd))
            .map_err(|_| Error::Closed)?;
        self.wake();
        Ok(())
    }

    /// What wakes the loop, for threads that make room for more work.
    pub fn waker(&self) -> Arc<Waker> {
        self.waker.clone()
    }

    /// A cloneable sender of commands, for a handle that lives beside this one.
    pub fn sender(&self) -> CommandSender<C> {
        CommandSender {
            tx: self.tx.clone(),
            waker: self.waker.clone(),
        }
    }

    /// Wakes the loop without a command (new data in shared state).
    pub fn wake(&self) {
        let _ = self.waker.wake();
    }

    /// True once the thread has stopped.
    pub fn is_closed(&self) -> bool {
        match self.thread.lock() {
            Ok(g) => g.as_ref().is_none_or(|t| t.handle.is_finished()),
            Err(_) => true,
        }
    }
}

/// Sends commands to an I/O thread, like [`IoHandle::send`]; fails with `Closed` once the
/// thread has stopped.
pub(crate) struct CommandSender<C> {
    tx: Sender<Envelope<C>>,
    waker: Arc<Waker>,
}

impl<C> Clone for CommandSender<C> {
    fn clone(&self) -> Self {
        CommandSender {
            tx: self.tx.clone(),
            waker: self.waker.clone(),
        }
    }
}

impl<C> CommandSender<C> {
    /// Sends a command and wakes the loop.
    pub fn send(&self, cmd: C) -> Result<()> {
        self.tx
            .send(Envelope::Command(cmd))
            .map_err(|_| Error::Closed)?;
        let _ = self.waker.wake();
        Ok(())
    }
}

impl<C> IoHandle<C> {
    /// Asks the loop to finish its work within `timeout`, then waits for the thread, but
    /// no longer than that: a thread still busy then is left to end by itself (it stops
    /// at the same deadline).
    pub fn close(&self, timeout: Duration) {
        let handle = match self.thread.lock() {
            Ok(mut g) => g.take(),
            Err(p) => p.into_inner().take(),
        };
        let Some(IoThread { handle, done }) = handle else {
            return;
        };
        let deadline = crate::deadline::from_now(timeout);
        let _ = self.tx.send(Envelope::Close { deadline });
        let _ = self.waker.wake();
        if handle.thread().id() == std::thread::current().id() {
            return;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if let Err(mpsc::RecvTimeoutError::Disconnected) = done.recv_timeout(left) {
            let _ = handle.join();
        } else {
            log::warn!("the I/O thread did not stop within {timeout:?}; leaving it to finish");
        }
    }
}

/// The loop's thread, and what tells that it has returned.
struct IoThread {
    handle: JoinHandle<()>,
    done: Receiver<()>,
}

impl<C> Drop for IoHandle<C> {
    /// A handle dropped without `close` gives the thread 5 s to finish, and waits no longer.
    fn drop(&mut self) {
        self.close(Duration::from_secs(5));
    }
}

/// Runs the loop; if it panics, fails everything pending so that no handle waits for an
/// answer that will never come, and lets the thread end.
fn run_guarded<D: Driver>(
    mut poll: Poll,
    mut net: Network<D::Ctx>,
    mut driver: D,
    rx: Receiver<Envelope<D::Command>>,
) {
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        run(&mut poll, &mut net, &mut driver, &rx)
    }));
    let Err(panic) = outcome else { return };
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic with no message".to_owned());
    log::error!("the I/O thread panicked: {message}; every pending call of this client fails");
    let error = Error::Internal(format!("the I/O thread panicked: {message}"));
    // Commands sent from now on fail with `Closed`.
    drop(rx);
    let cleanup = catch_unwind(AssertUnwindSafe(|| {
        net.shutdown(Instant::now());
        while let Some((ctx, result)) = net.pop_completion(Instant::now()) {
            drop((ctx, result));
        }
        driver.on_exit(error);
    }));
    if cleanup.is_err() {
        log::error!("failing the pending calls panicked too; dropping them");
    }
}

fn run<D: Driver>(
    poll: &mut Poll,
    net: &mut Network<D::Ctx>,
    driver: &mut D,
    rx: &Receiver<Envelope<D::Command>>,
) {
    #[cfg(feature = "fuzzing")]
    let client_id = net.config().client_id.clone();
    let mut events = Events::with_capacity(256);
    let mut close_deadline: Option<Instant> = None;
    let mut driver_deadline: Option<Instant> = None;
    loop {
        #[cfg(feature = "fuzzing")]
        panic_injection::maybe_panic(&client_id);
        let now = Instant::now();
        let mut next = driver_deadline;
        for t in [net.next_deadline(), close_deadline].into_iter().flatten() {
            next = Some(next.map_or(t, |n| n.min(t)));
        }
        let timeout = next.map(|t| t.saturating_duration_since(now));
        if let Err(e) = poll.poll(&mut events, timeout) {
            if e.kind() != std::io::ErrorKind::Interrupted {
                log::error!("I/O thread poll failed: {e}");
                driver.on_exit(e.into());
                return;
            }
        }
        let now = Instant::now();
        for ev in events.iter() {
            if ev.token() == WAKER {
                continue;
            }
            net.on_event(
                ev.token(),
                ev.is_readable() || ev.is_read_closed() || ev.is_error(),
                ev.is_writable(),
                now,
            );
        }
        // Commands: drained every turn, woken or not, so none waits for the next event.
        loop {
            match rx.try_recv() {
                Ok(Envelope::Command(cmd)) => driver.on_command(cmd, net, now),
                Ok(Envelope::Close { deadline }) => {
                    close_deadline = Some(close_deadline.map_or(deadline, |d| d.min(deadline)));
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    close_deadline.get_or_insert(now);
                    break;
                }
            }
        }
        net.maintain(now);
        deliver(driver, net, now);
        driver_deadline = driver.poll(net, now);
        deliver(driver, net, now);
        net.flush_all(now);
        if let Some(deadline) = close_deadline {
            if driver.poll_close(net, now) || now >= deadline {
                net.flush_all(now);
                net.shutdown(now);
                deliver(driver, net, now);
                driver.on_exit(Error::Closed);
                return;
            }
        }
    }
}

fn deliver<D: Driver>(driver: &mut D, net: &mut Network<D::Ctx>, now: Instant) {
    while let Some((ctx, result)) = net.pop_completion(now) {
        driver.on_response(ctx, result, net, now);
    }
}

/// Test-only: makes a client's I/O thread panic, to check that every handle then gets
/// an error instead of waiting forever. Compiled only with the `fuzzing` feature; not
/// part of the API.
#[cfg(feature = "fuzzing")]
pub(crate) mod panic_injection {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Mutex;

    static ARMED: AtomicBool = AtomicBool::new(false);
    static CLIENT_IDS: Mutex<Vec<String>> = Mutex::new(Vec::new());

    /// The I/O thread of the client with this `client_id` panics at its next loop turn.
    pub fn inject(client_id: &str) {
        let mut ids = CLIENT_IDS.lock().unwrap_or_else(|p| p.into_inner());
        ids.push(client_id.to_owned());
        ARMED.store(true, Ordering::SeqCst);
    }

    pub(super) fn maybe_panic(client_id: &str) {
        if !ARMED.load(Ordering::Relaxed) {
            return;
        }
        let mut ids = CLIENT_IDS.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(i) = ids.iter().position(|id| id == client_id) {
            ids.swap_remove(i);
            drop(ids);
            panic!("injected for a test");
        }
    }
}
