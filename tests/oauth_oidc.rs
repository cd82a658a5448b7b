//! The OIDC client-credentials token provider against a small local token endpoint (an
//! HTTP server on 127.0.0.1 in the test: the endpoint is an identity provider, not a
//! broker). Tokens are fetched, cached, refreshed once 80% of their lifetime has passed,
//! and an endpoint that refuses the client is an error that says so.
#![cfg(feature = "oauth-oidc")]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use kafka_sync::oauth::{OidcConfig, OidcTokenProvider, TokenProvider};

/// One request as the endpoint saw it.
#[derive(Debug, Clone)]
struct Seen {
    request_line: String,
    authorization: String,
    body: String,
}

/// A token endpoint whose n-th answer (from 0) is `answer(n)`: (status, JSON body).
struct Endpoint {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Endpoint {
    fn start(answer: impl Fn(usize) -> (u16, String) + Send + 'static) -> Endpoint {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/oauth2/token", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                stream
                    .set_read_timeout(Some(Duration::from_secs(5)))
                    .unwrap();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request_line = String::new();
                if reader.read_line(&mut request_line).is_err() {
                    continue;
                }
                let (mut length, mut authorization) = (0, String::new());
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                        break;
                    }
                    let (name, value) = line.split_once(':').unwrap_or((&line, ""));
                    match name.trim().to_ascii_lowercase().as_str() {
                        "content-length" => length = value.trim().parse().unwrap_or(0),
                        "authorization" => authorization = value.trim().to_owned(),
                        _ => {}
                    }
                }
                let mut body = vec![0u8; length];
                let _ = reader.read_exact(&mut body);
                let n = {
                    let mut log = log.lock().unwrap();
                    log.push(Seen {
                        request_line: request_line.trim().to_owned(),
                        authorization,
                        body: String::from_utf8_lossy(&body).into_owned(),
                    });
                    log.len() - 1
                };
                let (status, json) = answer(n);
                let response = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n{json}",
                    json.len()
                );
                let _ = stream.write_all(response.as_bytes());
            }
        });
        Endpoint { url, seen }
    }

    fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn provider(&self) -> OidcTokenProvider {
        OidcTokenProvider::new(
            OidcConfig::new(&self.url, "my app", "s3cret:x")
                .scope("kafka")
                .timeout(Duration::from_secs(5)),
        )
    }
}

fn token_json(n: usize, expires_in: u64) -> (u16, String) {
    (
        200,
        format!(
            r#"{{"access_token":"token-{n}","token_type":"bearer","expires_in":{expires_in}}}"#
        ),
    )
}

#[test]
fn a_token_is_fetched_with_client_credentials_and_cached() {
    let endpoint = Endpoint::start(|n| token_json(n, 3600));
    let provider = endpoint.provider();
    let first = provider.token().unwrap();
    let second = provider.token().unwrap();
    assert_eq!(first.value, "token-0");
    assert_eq!(second.value, "token-0", "the cached token");
    assert_eq!(first.principal, "my app", "no JWT sub: the client id");
    let requests = endpoint.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    let r = &requests[0];
    assert!(r.request_line.starts_with("POST /oauth2/token "), "{r:?}");
    // base64("my+app:s3cret%3Ax"): the id and secret form-encoded, then Basic.
    assert_eq!(r.authorization, "Basic bXkrYXBwOnMzY3JldCUzQXg=");
    assert_eq!(r.body, "grant_type=client_credentials&scope=kafka");
}

/// Sleeps until `after` has passed since `from`.
fn sleep_until(from: Instant, after: Duration) {
    thread::sleep((from + after).saturating_duration_since(Instant::now()));
}

#[test]
fn a_token_is_refreshed_once_80_percent_of_its_lifetime_has_passed() {
    let endpoint = Endpoint::start(|n| token_json(n, 4));
    let provider = endpoint.provider();
    // The provider times the lifetime from the answer, before `token()` returns.
    assert_eq!(provider.token().unwrap().value, "token-0");
    let answered = Instant::now();
    // Before the refresh point (3.2 s), the cached token.
    thread::sleep(Duration::from_millis(500));
    assert_eq!(provider.token().unwrap().value, "token-0");
    assert_eq!(endpoint.requests().len(), 1);
    // Past 80% of the lifetime, before expiry: a new token.
    sleep_until(answered, Duration::from_millis(3600));
    assert_eq!(provider.token().unwrap().value, "token-1");
    assert_eq!(endpoint.requests().len(), 2);
}

#[test]
fn a_401_from_the_endpoint_is_an_error_that_says_so() {
    let endpoint = Endpoint::start(|_| (401, r#"{"error":"invalid_client"}"#.into()));
    let err = endpoint.provider().token().unwrap_err().to_string();
    assert!(
        err.contains("401") && err.contains("invalid_client"),
        "{err}"
    );
    assert!(err.contains(&endpoint.url), "{err}");
}

#[test]
fn the_cached_token_outlives_a_failing_endpoint_until_it_expires() {
    let endpoint = Endpoint::start(|n| match n {
        0 => token_json(n, 4),
        _ => (500, r#"{"error":"server_error"}"#.into()),
    });
    let provider = endpoint.provider();
    assert_eq!(provider.token().unwrap().value, "token-0");
    let answered = Instant::now();
    sleep_until(answered, Duration::from_millis(3400));
    // The refresh fails, the token has not expired: it is still used.
    assert_eq!(provider.token().unwrap().value, "token-0");
    assert_eq!(endpoint.requests().len(), 2);
    // Past its expiry: the endpoint's error.
    sleep_until(answered, Duration::from_millis(4200));
    let err = provider.token().unwrap_err().to_string();
    assert!(err.contains("500"), "{err}");
}

#[test]
fn an_unreachable_endpoint_is_an_error() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/token", listener.local_addr().unwrap());
    drop(listener);
    let provider = OidcTokenProvider::new(OidcConfig::new(&url, "a", "b"));
    let err = provider.token().unwrap_err().to_string();
    assert!(err.contains(&url), "{err}");
}
