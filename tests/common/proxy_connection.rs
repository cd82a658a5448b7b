//! One client connection through the fault proxy: it connects to the real broker and
//! pumps frames both ways, applying the route's fault and the fake broker's scripts.

use std::collections::HashMap;
use std::io::Write;
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use super::fake_broker::{Misbehave, Reply};
use super::fault_proxy::{fault_of, route_for, Fault, Live, Shared};
use super::kafka_frames::{
    framed, read_frame, response_correlation_id, rewrite_addresses, write_frame, RequestInfo,
};

/// Serves one client connection: connects upstream and pumps frames both ways.
pub(super) fn serve(shared: Arc<Shared>, client: TcpStream, route: usize) {
    let _ = client.set_nodelay(true);
    match fault_of(&shared, route) {
        Fault::Drop => return,
        Fault::Reset => {
            let _ = socket2::SockRef::from(&client).set_linger(Some(Duration::ZERO));
            return;
        }
        _ => {}
    }
    let upstream_addr = shared.state.lock().unwrap().routes[route].upstream.clone();
    let upstream = upstream_addr
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .and_then(|a| TcpStream::connect_timeout(&a, Duration::from_secs(2)).ok());
    let Some(upstream) = upstream else {
        return; // the broker is down: the client sees the connection close
    };
    let _ = upstream.set_nodelay(true);
    let id = shared.next_conn.fetch_add(1, Ordering::Relaxed);
    let (Ok(c2), Ok(u2)) = (client.try_clone(), upstream.try_clone()) else {
        return;
    };
    shared.state.lock().unwrap().live.insert(
        id,
        Live {
            route,
            client: c2,
            upstream: u2,
        },
    );
    let inflight: Arc<Mutex<HashMap<i32, RequestInfo>>> = Arc::default();
    let (Ok(client_r), Ok(upstream_w)) = (client.try_clone(), upstream.try_clone()) else {
        return;
    };
    let requests = {
        let (shared, inflight) = (shared.clone(), inflight.clone());
        thread::spawn(move || pump_requests(&shared, route, client_r, upstream_w, &inflight))
    };
    pump_responses(&shared, route, upstream, client, &inflight);
    let _ = requests.join();
    shared.state.lock().unwrap().live.remove(&id);
}

/// Client to broker: records each request's header, forwards it unless cut.
fn pump_requests(
    shared: &Shared,
    route: usize,
    mut client: TcpStream,
    mut upstream: TcpStream,
    inflight: &Mutex<HashMap<i32, RequestInfo>>,
) {
    while let Ok(Some(frame)) = read_frame(&mut client) {
        let Some(info) = RequestInfo::parse(&frame) else {
            break;
        };
        *shared
            .requests
            .lock()
            .unwrap()
            .entry(info.api_key)
            .or_default() += 1;
        inflight.lock().unwrap().insert(info.correlation_id, info);
        match fault_of(shared, route) {
            Fault::Blackhole | Fault::CutToBroker => continue,
            _ => {}
        }
        if write_frame(&mut upstream, &frame).is_err() {
            break;
        }
    }
    let _ = upstream.shutdown(Shutdown::Both);
    let _ = client.shutdown(Shutdown::Read);
}

/// Broker to client: rewrites addresses, applies the route's fault and the scripts.
fn pump_responses(
    shared: &Arc<Shared>,
    route: usize,
    mut upstream: TcpStream,
    mut client: TcpStream,
    inflight: &Mutex<HashMap<i32, RequestInfo>>,
) {
    while let Ok(Some(frame)) = read_frame(&mut upstream) {
        let info =
            response_correlation_id(&frame).and_then(|c| inflight.lock().unwrap().remove(&c));
        let fault = fault_of(shared, route);
        match fault {
            Fault::Blackhole | Fault::CutToClient => continue,
            Fault::Delay(d) => thread::sleep(d),
            _ => {}
        }
        let reply = match info {
            Some(info) => respond(shared, route, &info, frame),
            None => Reply::Bytes(framed(&frame)),
        };
        let reply = match (reply, fault) {
            (
                Reply::Bytes(bytes),
                Fault::SlowDrip {
                    bytes: chunk,
                    every,
                },
            ) => Reply::Drip {
                bytes,
                chunk,
                every,
            },
            (reply, _) => reply,
        };
        if let Some(reset) = send_reply(shared, route, &mut client, reply) {
            end(&client, &upstream, reset);
            return;
        }
    }
    end(&client, &upstream, false);
}

/// Ends a connection from the response side: a FIN to the client, or (with SO_LINGER 0
/// already set) an RST once the last handle closes; the request pump wakes up and ends.
fn end(client: &TcpStream, upstream: &TcpStream, reset: bool) {
    let _ = client.shutdown(if reset {
        Shutdown::Read
    } else {
        Shutdown::Both
    });
    let _ = upstream.shutdown(Shutdown::Both);
}

/// The bytes to send for the real response `frame`: its addresses rewritten, then
/// replaced by the first matching script, if any.
fn respond(shared: &Arc<Shared>, route: usize, info: &RequestInfo, frame: Vec<u8>) -> Reply {
    let map = |node_id: i32, host: &str, port: i32| {
        let local = route_for(shared, Some(node_id), &format!("{host}:{port}"));
        ("127.0.0.1".to_string(), i32::from(local))
    };
    let frame = rewrite_addresses(frame, info, &map);
    let act: Option<Misbehave> = {
        let mut st = shared.state.lock().unwrap();
        let node = st.routes[route].node_id;
        st.scripts.iter_mut().find_map(|s| s.take(info, node))
    };
    match act {
        Some(act) => act.reply(info, &frame),
        None => Reply::Bytes(framed(&frame)),
    }
}

/// Writes `reply`; `Some(reset)` when the connection must end (with an RST if `reset`).
fn send_reply(shared: &Shared, route: usize, client: &mut TcpStream, reply: Reply) -> Option<bool> {
    match reply {
        Reply::Bytes(bytes) => client.write_all(&bytes).is_err().then_some(false),
        Reply::Nothing => None,
        Reply::Drip {
            bytes,
            chunk,
            every,
        } => {
            for piece in bytes.chunks(chunk.max(1)) {
                if shared.stop.load(Ordering::SeqCst)
                    || matches!(fault_of(shared, route), Fault::Drop | Fault::Reset)
                    || client.write_all(piece).is_err()
                {
                    return Some(false);
                }
                thread::sleep(every);
            }
            None
        }
        Reply::Close(bytes) => {
            let _ = client.write_all(&bytes);
            // Let the client read the bytes before the FIN.
            thread::sleep(Duration::from_millis(50));
            Some(false)
        }
        Reply::Reset => {
            let _ = socket2::SockRef::from(&*client).set_linger(Some(Duration::ZERO));
            Some(true)
        }
    }
}
