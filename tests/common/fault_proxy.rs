//! A TCP fault proxy between the client and the real brokers.
//!
//! The proxy listens on one local port per broker. It rewrites the broker addresses in
//! the responses that carry them (Metadata, FindCoordinator, DescribeCluster, leader
//! hints in Produce and Fetch) to its own listeners, so the client reaches *every*
//! broker through it. Faults switch at run time, per broker or for all of them:
//!
//! ```ignore
//! let proxy = FaultProxy::start(&common::bootstrap());
//! let producer = Producer::builder().bootstrap_servers(proxy.bootstrap()).build()?;
//! proxy.set_fault_all(Fault::Blackhole);     // every broker goes silent, no RST
//! proxy.set_fault_node(2, Fault::Reset);     // only node 2: RST now and on every connect
//! proxy.clear_faults();                      // everything flows again
//! ```
//!
//! Per-API misbehaviour (a fake broker answering in place of the real one) is scripted
//! with [`FaultProxy::script`]; see `fake_broker.rs`.

use std::collections::HashMap;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use kafka_sync::protocol::api::ApiKey;

use super::fake_broker::{Misbehave, Script};
use super::proxy_connection::serve;

/// A network fault on the path to a broker.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Fault {
    /// Everything flows.
    #[default]
    None,
    /// Each response is held back this long before it is forwarded.
    Delay(Duration),
    /// Open connections are closed (FIN); new ones are accepted and closed at once.
    Drop,
    /// Connections stay open (new ones are accepted) but nothing is forwarded either
    /// way, and nothing is closed or reset: a host that vanished from the network.
    Blackhole,
    /// Open connections are reset (RST, SO_LINGER 0); new ones are accepted and reset.
    Reset,
    /// Responses trickle out `bytes` at a time, one chunk every `every`.
    SlowDrip { bytes: usize, every: Duration },
    /// Requests are swallowed; responses (to earlier requests) still flow.
    CutToBroker,
    /// Responses are swallowed; requests still reach the broker.
    CutToClient,
}

/// One broker as the proxy serves it.
pub(super) struct Route {
    /// The broker's real address.
    pub(super) upstream: String,
    /// The proxy's listener for it.
    pub(super) local_port: u16,
    /// Learnt from responses that list brokers.
    pub(super) node_id: Option<i32>,
    pub(super) fault: Fault,
}

/// A live client connection and its upstream half, kept to break them on demand.
pub(super) struct Live {
    pub(super) route: usize,
    pub(super) client: TcpStream,
    pub(super) upstream: TcpStream,
}

#[derive(Default)]
pub(super) struct State {
    pub(super) routes: Vec<Route>,
    /// The fault a route learnt later starts with (set by `set_fault_all`).
    pub(super) default_fault: Fault,
    pub(super) live: HashMap<u64, Live>,
    pub(super) scripts: Vec<Script>,
}

pub(super) struct Shared {
    pub(super) state: Mutex<State>,
    pub(super) stop: AtomicBool,
    pub(super) next_conn: AtomicU64,
    pub(super) accepted: AtomicU64,
    pub(super) requests: Mutex<HashMap<ApiKey, u64>>,
}

/// The proxy; dropping it closes every listener and connection.
pub struct FaultProxy {
    shared: Arc<Shared>,
    bootstrap: String,
}

impl FaultProxy {
    /// Starts a proxy for the brokers behind `bootstrap` (`host:port[,host:port...]`).
    pub fn start(bootstrap: &str) -> FaultProxy {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            stop: AtomicBool::new(false),
            next_conn: AtomicU64::new(0),
            accepted: AtomicU64::new(0),
            requests: Mutex::new(HashMap::new()),
        });
        let bootstrap = bootstrap
            .split(',')
            .map(|addr| format!("127.0.0.1:{}", route_for(&shared, None, addr.trim())))
            .collect::<Vec<_>>()
            .join(",");
        FaultProxy { shared, bootstrap }
    }

    /// The proxy's bootstrap servers, to give the client.
    pub fn bootstrap(&self) -> String {
        self.bootstrap.clone()
    }

    /// Applies `fault` to every broker, also to brokers learnt later.
    pub fn set_fault_all(&self, fault: Fault) {
        let mut st = self.shared.state.lock().unwrap();
        st.default_fault = fault.clone();
        let routes: Vec<usize> = (0..st.routes.len()).collect();
        apply(&mut st, &routes, fault);
    }

    /// Applies `fault` to the broker with this node id (learnt from metadata).
    pub fn set_fault_node(&self, node_id: i32, fault: Fault) {
        let mut st = self.shared.state.lock().unwrap();
        let routes: Vec<usize> = (0..st.routes.len())
            .filter(|&i| st.routes[i].node_id == Some(node_id))
            .collect();
        assert!(
            !routes.is_empty(),
            "node {node_id} is not known to the proxy yet"
        );
        apply(&mut st, &routes, fault);
    }

    /// Lets everything flow again (scripts stay).
    pub fn clear_faults(&self) {
        self.set_fault_all(Fault::None);
    }

    /// The node ids learnt so far.
    pub fn nodes(&self) -> Vec<i32> {
        let st = self.shared.state.lock().unwrap();
        st.routes.iter().filter_map(|r| r.node_id).collect()
    }

    /// Replaces the real broker's response to every `api` request (on any broker) with
    /// `act`, at most `times` times (`None`: until cleared). The request still reaches
    /// the real broker.
    pub fn script(&self, api: ApiKey, times: Option<usize>, act: Misbehave) {
        let mut st = self.shared.state.lock().unwrap();
        st.scripts.push(Script::new(api, times, act));
    }

    /// [`script`](Self::script) for the responses of one node only.
    pub fn script_node(&self, node_id: i32, api: ApiKey, times: Option<usize>, act: Misbehave) {
        let mut st = self.shared.state.lock().unwrap();
        st.scripts
            .push(Script::new(api, times, act).on_node(node_id));
    }

    /// Adds a script built with [`Script`]'s filters (node, version).
    pub fn add_script(&self, script: Script) {
        self.shared.state.lock().unwrap().scripts.push(script);
    }

    /// Removes every script: all responses come from the real brokers again.
    pub fn clear_scripts(&self) {
        self.shared.state.lock().unwrap().scripts.clear();
    }

    /// Client connections accepted so far, on every listener.
    pub fn connections_accepted(&self) -> u64 {
        self.shared.accepted.load(Ordering::Relaxed)
    }

    /// Requests of `api` the clients sent so far.
    pub fn requests_seen(&self, api: ApiKey) -> u64 {
        *self.shared.requests.lock().unwrap().get(&api).unwrap_or(&0)
    }

    /// Breaks every open connection (FIN), as a broker restart would.
    pub fn close_all_connections(&self) {
        let mut st = self.shared.state.lock().unwrap();
        for (_, live) in st.live.drain() {
            break_conn(&live, false);
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.close_all_connections();
    }
}

/// Sets `fault` on `routes`, and breaks their open connections if it drops or resets.
fn apply(st: &mut State, routes: &[usize], fault: Fault) {
    for &r in routes {
        st.routes[r].fault = fault.clone();
    }
    if matches!(fault, Fault::Drop | Fault::Reset) {
        let ids: Vec<u64> = st
            .live
            .iter()
            .filter(|(_, l)| routes.contains(&l.route))
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            if let Some(live) = st.live.remove(&id) {
                break_conn(&live, fault == Fault::Reset);
            }
        }
    }
}

/// Closes the client side with a FIN, or with an RST once the last handle is dropped
/// (SO_LINGER 0); wakes both pump threads so they drop theirs.
fn break_conn(live: &Live, reset: bool) {
    if reset {
        let _ = socket2::SockRef::from(&live.client).set_linger(Some(Duration::ZERO));
        let _ = live.client.shutdown(Shutdown::Read);
    } else {
        let _ = live.client.shutdown(Shutdown::Both);
    }
    let _ = live.upstream.shutdown(Shutdown::Both);
}

fn normalise(addr: &str) -> String {
    addr.replace("localhost:", "127.0.0.1:")
}

/// The local port serving the broker at `upstream`, starting a listener for it when it
/// is new, and recording its node id when known.
pub(super) fn route_for(shared: &Arc<Shared>, node_id: Option<i32>, upstream: &str) -> u16 {
    let upstream = normalise(upstream);
    let mut st = shared.state.lock().unwrap();
    if let Some(r) = st.routes.iter_mut().find(|r| r.upstream == upstream) {
        if node_id.is_some() {
            r.node_id = node_id;
        }
        return r.local_port;
    }
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a proxy listener");
    let local_port = listener.local_addr().unwrap().port();
    let index = st.routes.len();
    let fault = st.default_fault.clone();
    st.routes.push(Route {
        upstream,
        local_port,
        node_id,
        fault,
    });
    let shared = shared.clone();
    thread::Builder::new()
        .name(format!("proxy-accept-{local_port}"))
        .spawn(move || accept_loop(shared, listener, index))
        .expect("spawn the accept thread");
    local_port
}

fn accept_loop(shared: Arc<Shared>, listener: TcpListener, route: usize) {
    listener.set_nonblocking(true).unwrap();
    while !shared.stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((client, _)) => {
                shared.accepted.fetch_add(1, Ordering::Relaxed);
                let _ = client.set_nonblocking(false);
                let shared = shared.clone();
                thread::spawn(move || serve(shared, client, route));
            }
            Err(_) => thread::sleep(Duration::from_millis(5)),
        }
    }
}

pub(super) fn fault_of(shared: &Shared, route: usize) -> Fault {
    shared.state.lock().unwrap().routes[route].fault.clone()
}
