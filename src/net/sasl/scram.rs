//! SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, RFC 7677), as Kafka speaks them (KIP-84):
//! no channel binding (`n,,`), the username escaped but not SASLprep-normalised (as the
//! Java client), and at least 4096 iterations.
//!
//! The exchange is two round trips:
//! ```text
//! client-first  n,,n=<user>,r=<client nonce>
//! server-first  r=<client nonce + server nonce>,s=<salt>,i=<iterations>
//! client-final  c=biws,r=<nonce>,p=<proof>
//! server-final  v=<server signature>     (or e=<error>)
//! ```

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256, Sha512};

use super::{SaslError, SaslMechanism};

/// Kafka's lower bound on the iteration count (`ScramMechanism.minIterations`); a server
/// that asks for fewer is refused, as the Java client refuses it.
pub(crate) const MIN_ITERATIONS: u32 = 4096;

/// Kafka's upper bound (`ScramMechanism.maxIterations`): a broker never stores more, and
/// the bound keeps a hostile server from making the I/O thread hash for minutes.
pub(crate) const MAX_ITERATIONS: u32 = 16384;

/// The hash a SCRAM mechanism is built on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ScramHash {
    /// SCRAM-SHA-256.
    Sha256,
    /// SCRAM-SHA-512.
    Sha512,
}

impl ScramHash {
    /// The mechanism's name in SaslHandshake.
    pub(crate) fn mechanism(self) -> &'static str {
        match self {
            ScramHash::Sha256 => "SCRAM-SHA-256",
            ScramHash::Sha512 => "SCRAM-SHA-512",
        }
    }

    /// `H(data)`.
    fn hash(self, data: &[u8]) -> Vec<u8> {
        match self {
            ScramHash::Sha256 => Sha256::digest(data).to_vec(),
            ScramHash::Sha512 => Sha512::digest(data).to_vec(),
        }
    }

    /// `HMAC(key, data)`.
    fn hmac(self, key: &[u8], data: &[u8]) -> Vec<u8> {
        // HMAC accepts keys of any length, so new_from_slice cannot fail.
        match self {
            ScramHash::Sha256 => {
                let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key");
                mac.update(data);
                mac.finalize().into_bytes().to_vec()
            }
            ScramHash::Sha512 => {
                let mut mac = Hmac::<Sha512>::new_from_slice(key).expect("HMAC takes any key");
                mac.update(data);
                mac.finalize().into_bytes().to_vec()
            }
        }
    }

    /// `Hi(password, salt, i)`: PBKDF2 with this hash's HMAC, the SCRAM salted password.
    /// It is also what AlterUserScramCredentials sends for an upsertion.
    pub(crate) fn salted_password(self, password: &[u8], salt: &[u8], iterations: u32) -> Vec<u8> {
        match self {
            ScramHash::Sha256 => {
                let mut out = [0u8; 32];
                pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, iterations, &mut out);
                out.to_vec()
            }
            ScramHash::Sha512 => {
                let mut out = [0u8; 64];
                pbkdf2::pbkdf2_hmac::<Sha512>(password, salt, iterations, &mut out);
                out.to_vec()
            }
        }
    }
}

/// Random bytes from the operating system's CSPRNG, for nonces and salts.
pub(crate) fn random_bytes(len: usize) -> Result<Vec<u8>, SaslError> {
    let mut out = vec![0u8; len];
    getrandom::fill(&mut out)
        .map_err(|e| SaslError::Protocol(format!("no randomness from the OS for a nonce: {e}")))?;
    Ok(out)
}

/// RFC 5802 `saslname`: `=` and `,` would end the attribute, so they become `=3D`, `=2C`.
fn escape_username(user: &str) -> String {
    user.replace('=', "=3D").replace(',', "=2C")
}

#[derive(Debug)]
enum State {
    Initial,
    /// client-first sent; holds client-first-message-bare.
    SentFirst {
        first_bare: String,
    },
    /// client-final sent; holds the server signature we expect.
    SentFinal {
        server_signature: Vec<u8>,
    },
    Done,
}

/// One SCRAM exchange. The password stays in memory only as long as the exchange.
pub(crate) struct ScramClient {
    hash: ScramHash,
    username: String,
    password: String,
    /// Set by tests to replay RFC vectors; otherwise drawn at `start`.
    nonce: Option<String>,
    state: State,
}

impl std::fmt::Debug for ScramClient {
    // The password is a credential: never print it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScramClient")
            .field("mechanism", &self.hash.mechanism())
            .field("username", &self.username)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl ScramClient {
    /// A SCRAM client for `username`/`password` with the given hash.
    pub(crate) fn new(hash: ScramHash, username: &str, password: &str) -> ScramClient {
        ScramClient {
            hash,
            username: username.to_owned(),
            password: password.to_owned(),
            nonce: None,
            state: State::Initial,
        }
    }

    #[cfg(test)]
    fn with_nonce(mut self, nonce: &str) -> ScramClient {
        self.nonce = Some(nonce.to_owned());
        self
    }

    fn client_final(&mut self, first_bare: &str, server: &[u8]) -> Result<Vec<u8>, SaslError> {
        let server_first = std::str::from_utf8(server)
            .map_err(|_| SaslError::Protocol("SCRAM server-first message is not UTF-8".into()))?;
        let first = ServerFirst::parse(server_first)?;
        let client_nonce = first_bare.rsplit_once(",r=").map_or("", |(_, n)| n);
        if !first.nonce.starts_with(client_nonce) || first.nonce.len() == client_nonce.len() {
            return Err(SaslError::Protocol(
                "SCRAM server nonce does not extend the client nonce".into(),
            ));
        }
        if first.iterations < MIN_ITERATIONS {
            return Err(SaslError::Protocol(format!(
                "SCRAM iteration count {} is below Kafka's minimum of {MIN_ITERATIONS}",
                first.iterations
            )));
        }
        if first.iterations > MAX_ITERATIONS {
            return Err(SaslError::Protocol(format!(
                "SCRAM iteration count {} is above Kafka's maximum of {MAX_ITERATIONS}",
                first.iterations
            )));
        }
        let h = self.hash;
        let salted = h.salted_password(self.password.as_bytes(), &first.salt, first.iterations);
        let client_key = h.hmac(&salted, b"Client Key");
        let stored_key = h.hash(&client_key);
        // c=biws is base64("n,,"): no channel binding, no authzid.
        let without_proof = format!("c=biws,r={}", first.nonce);
        let auth_message = format!("{first_bare},{server_first},{without_proof}");
        let client_signature = h.hmac(&stored_key, auth_message.as_bytes());
        let proof: Vec<u8> = client_key
            .iter()
            .zip(&client_signature)
            .map(|(k, s)| k ^ s)
            .collect();
        let server_key = h.hmac(&salted, b"Server Key");
        let server_signature = h.hmac(&server_key, auth_message.as_bytes());
        self.state = State::SentFinal { server_signature };
        Ok(format!("{without_proof},p={}", BASE64.encode(proof)).into_bytes())
    }
}

impl SaslMechanism for ScramClient {
    fn name(&self) -> &'static str {
        self.hash.mechanism()
    }

    fn start(&mut self) -> Result<Vec<u8>, SaslError> {
        if !matches!(self.state, State::Initial) {
            return Err(SaslError::Protocol("SCRAM exchange already started".into()));
        }
        let nonce = match self.nonce.take() {
            Some(n) => n,
            // 24 random bytes, base64: printable and free of ','.
            None => BASE64.encode(random_bytes(24)?),
        };
        let first_bare = format!("n={},r={nonce}", escape_username(&self.username));
        let message = format!("n,,{first_bare}").into_bytes();
        self.state = State::SentFirst { first_bare };
        Ok(message)
    }

    fn step(&mut self, server: &[u8]) -> Result<Option<Vec<u8>>, SaslError> {
        match std::mem::replace(&mut self.state, State::Done) {
            State::SentFirst { first_bare } => self.client_final(&first_bare, server).map(Some),
            State::SentFinal { server_signature } => {
                verify_server_final(server, &server_signature)?;
                Ok(None)
            }
            State::Initial | State::Done => Err(SaslError::Protocol(
                "SCRAM message from the broker outside the exchange".into(),
            )),
        }
    }
}

/// Checks `v=<server signature>`; `e=<error>` is the server refusing.
fn verify_server_final(server: &[u8], expected: &[u8]) -> Result<(), SaslError> {
    let text = std::str::from_utf8(server)
        .map_err(|_| SaslError::Protocol("SCRAM server-final message is not UTF-8".into()))?;
    let first = text.split(',').next().unwrap_or("");
    if let Some(error) = first.strip_prefix("e=") {
        return Err(SaslError::Protocol(format!(
            "the broker refused the SCRAM exchange: {error}"
        )));
    }
    let Some(signature) = first.strip_prefix("v=") else {
        return Err(SaslError::Protocol(
            "SCRAM server-final message has no v= attribute".into(),
        ));
    };
    match BASE64.decode(signature) {
        Ok(s) if s == expected => Ok(()),
        _ => Err(SaslError::ServerNotVerified),
    }
}

/// The attributes of server-first-message that the client uses.
#[derive(Debug, PartialEq)]
struct ServerFirst {
    nonce: String,
    salt: Vec<u8>,
    iterations: u32,
}

impl ServerFirst {
    fn parse(text: &str) -> Result<ServerFirst, SaslError> {
        let bad = |m: &str| SaslError::Protocol(format!("SCRAM server-first message: {m}"));
        let mut attrs = text.split(',');
        if let Some(first) = text.split(',').next() {
            if let Some(e) = first.strip_prefix("e=") {
                return Err(bad(&format!("the broker refused: {e}")));
            }
            if first.starts_with("m=") {
                return Err(bad("a mandatory extension (m=) this client does not know"));
            }
        }
        let nonce = attrs
            .next()
            .and_then(|a| a.strip_prefix("r="))
            .filter(|n| !n.is_empty())
            .ok_or_else(|| bad("no nonce (r=)"))?;
        let salt = attrs
            .next()
            .and_then(|a| a.strip_prefix("s="))
            .ok_or_else(|| bad("no salt (s=)"))?;
        let salt = BASE64
            .decode(salt)
            .map_err(|_| bad("the salt is not base64"))?;
        let iterations = attrs
            .next()
            .and_then(|a| a.strip_prefix("i="))
            .ok_or_else(|| bad("no iteration count (i=)"))?;
        let iterations = iterations
            .parse::<u32>()
            .map_err(|_| bad("the iteration count is not a number"))?;
        // Further attributes are extensions (RFC 5802 section 5.1), which we ignore.
        Ok(ServerFirst {
            nonce: nonce.to_owned(),
            salt,
            iterations,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exchange(
        hash: ScramHash,
        user: &str,
        password: &str,
        nonce: &str,
        server_first: &str,
    ) -> (ScramClient, String, String) {
        let mut c = ScramClient::new(hash, user, password).with_nonce(nonce);
        let first = String::from_utf8(c.start().unwrap()).unwrap();
        let last = c.step(server_first.as_bytes()).unwrap().unwrap();
        (c, first, String::from_utf8(last).unwrap())
    }

    /// RFC 7677 section 3.
    const RFC7677_SERVER_FIRST: &str =
        "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";

    /// The RFC 7677 exchange up to the server's final message.
    fn rfc7677_after_client_final() -> ScramClient {
        exchange(
            ScramHash::Sha256,
            "user",
            "pencil",
            "rOprNGfwEbeRWgbNEkqO",
            RFC7677_SERVER_FIRST,
        )
        .0
    }

    #[test]
    fn sha256_matches_rfc7677() {
        let (mut c, first, last) = exchange(
            ScramHash::Sha256,
            "user",
            "pencil",
            "rOprNGfwEbeRWgbNEkqO",
            RFC7677_SERVER_FIRST,
        );
        assert_eq!(c.name(), "SCRAM-SHA-256");
        assert_eq!(first, "n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
        assert_eq!(
            last,
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
             p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        );
        let done = c.step(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
        assert_eq!(done, Ok(None));
    }

    /// Derived independently with Python's hashlib and hmac:
    /// ```text
    /// sp = hashlib.pbkdf2_hmac("sha512", b"alice-secret", b"kafka-sync-salt!", 4096)
    /// ck = hmac.new(sp, b"Client Key", "sha512").digest(); sk = hashlib.sha512(ck).digest()
    /// am = (bare + "," + server_first + "," + "c=biws,r=" + nonce).encode()
    /// proof = ck XOR hmac.new(sk, am, "sha512").digest()
    /// v = hmac.new(hmac.new(sp, b"Server Key", "sha512").digest(), am, "sha512").digest()
    /// ```
    #[test]
    fn sha512_matches_an_independent_derivation() {
        let server_first =
            "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=a2Fma2Etc3luYy1zYWx0IQ==,i=4096";
        let (mut c, first, last) = exchange(
            ScramHash::Sha512,
            "alice",
            "alice-secret",
            "fyko+d2lbbFgONRv9qkxdawL",
            server_first,
        );
        assert_eq!(c.name(), "SCRAM-SHA-512");
        assert_eq!(first, "n,,n=alice,r=fyko+d2lbbFgONRv9qkxdawL");
        assert_eq!(
            last,
            "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,\
             p=mslFRunoSFvBgcV7McLyZM96cDFAdvoa+rlO+s8K1eod86VoEBVq16OVUzMVgaQtq8MUzvfMYXbnzWjMJI/HnQ=="
        );
        let v = "v=VANFOaHRiT2Y5XXU5KMR4mU9n/Ax2QEiakdcPeBqhaNQ+CYooQvGBkaFRwYZMtt07ah9VqwqcZy6p3iggqznnQ==";
        assert_eq!(c.step(v.as_bytes()), Ok(None));
    }

    #[test]
    fn salted_password_is_pbkdf2() {
        // Python: hashlib.pbkdf2_hmac("sha256", b"pencil", b64decode("W22ZaJ0SNY7soEsUEjb6gQ=="), 4096)
        let salt = BASE64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
        let salted = ScramHash::Sha256.salted_password(b"pencil", &salt, 4096);
        let hex: String = salted.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "c4a49510323ab4f952cac1fa99441939e78ea74d6be81ddf7096e87513dc615d"
        );
        assert_eq!(
            ScramHash::Sha512.salted_password(b"x", b"salt", 4096).len(),
            64
        );
    }

    #[test]
    fn a_wrong_server_signature_is_not_verified() {
        let mut c = rfc7677_after_client_final();
        let forged = format!("v={}", BASE64.encode([0u8; 32]));
        assert_eq!(c.step(forged.as_bytes()), Err(SaslError::ServerNotVerified));
    }

    #[test]
    fn a_server_signature_that_is_not_base64_is_not_verified() {
        let mut c = rfc7677_after_client_final();
        assert_eq!(c.step(b"v=!!!"), Err(SaslError::ServerNotVerified));
    }

    #[test]
    fn a_server_error_is_reported() {
        let mut c = rfc7677_after_client_final();
        let err = c.step(b"e=invalid-proof").unwrap_err();
        assert!(
            matches!(&err, SaslError::Protocol(m) if m.contains("invalid-proof")),
            "{err:?}"
        );
        let mut c = ScramClient::new(ScramHash::Sha256, "u", "p").with_nonce("abc");
        c.start().unwrap();
        let err = c.step(b"e=unknown-user").unwrap_err();
        assert!(
            matches!(&err, SaslError::Protocol(m) if m.contains("unknown-user")),
            "{err:?}"
        );
    }

    fn first_step_error(server_first: &str) -> String {
        let mut c = ScramClient::new(ScramHash::Sha256, "u", "p").with_nonce("abc");
        c.start().unwrap();
        match c.step(server_first.as_bytes()) {
            Err(SaslError::Protocol(m)) => m,
            other => panic!("{server_first}: {other:?}"),
        }
    }

    #[test]
    fn a_nonce_that_does_not_extend_ours_is_refused() {
        let salt = "s=c2FsdA==,i=4096";
        assert!(first_step_error(&format!("r=xyzabc,{salt}")).contains("nonce"));
        assert!(first_step_error(&format!("r=abc,{salt}")).contains("nonce"));
        assert!(first_step_error(&format!("r=ab,{salt}")).contains("nonce"));
    }

    #[test]
    fn iteration_counts_outside_kafkas_bounds_are_refused() {
        assert!(first_step_error("r=abcd,s=c2FsdA==,i=4095").contains("minimum"));
        assert!(first_step_error("r=abcd,s=c2FsdA==,i=16385").contains("maximum"));
        assert!(first_step_error("r=abcd,s=c2FsdA==,i=99999999999").contains("number"));
    }

    #[test]
    fn malformed_server_first_messages_are_protocol_errors() {
        for bad in [
            "",
            "garbage",
            "r=abcd",
            "r=abcd,s=***,i=4096",
            "r=abcd,i=4096,s=c2FsdA==",
            "m=ext,r=abcd,s=c2FsdA==,i=4096",
            "e=other-error",
        ] {
            first_step_error(bad);
        }
        let mut c = ScramClient::new(ScramHash::Sha256, "u", "p");
        c.start().unwrap();
        assert!(c.step(&[0xff, 0xfe]).is_err());
    }

    #[test]
    fn extensions_after_the_iteration_count_are_ignored() {
        let mut c = ScramClient::new(ScramHash::Sha256, "u", "p").with_nonce("abc");
        c.start().unwrap();
        let r = c.step(b"r=abcdef,s=c2FsdA==,i=4096,x=extension");
        assert!(matches!(r, Ok(Some(_))), "{r:?}");
    }

    #[test]
    fn usernames_are_escaped() {
        let mut c = ScramClient::new(ScramHash::Sha512, "a=b,c", "p").with_nonce("n");
        assert_eq!(c.start().unwrap(), b"n,,n=a=3Db=2Cc,r=n");
    }

    #[test]
    fn fresh_nonces_are_random_and_printable() {
        let nonce = |c: &mut ScramClient| {
            let first = String::from_utf8(c.start().unwrap()).unwrap();
            first.rsplit_once(",r=").unwrap().1.to_owned()
        };
        let a = nonce(&mut ScramClient::new(ScramHash::Sha256, "u", "p"));
        let b = nonce(&mut ScramClient::new(ScramHash::Sha256, "u", "p"));
        assert_ne!(a, b);
        assert!(a.len() >= 24 && a.bytes().all(|c| c.is_ascii_graphic() && c != b','));
    }

    #[test]
    fn steps_out_of_order_are_errors() {
        let mut c = ScramClient::new(ScramHash::Sha256, "u", "p");
        assert!(c.step(b"r=x,s=c2FsdA==,i=4096").is_err());
        let mut c = ScramClient::new(ScramHash::Sha256, "u", "p");
        c.start().unwrap();
        assert!(c.start().is_err());
        let mut c = rfc7677_after_client_final();
        c.step(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
            .unwrap();
        assert!(c.step(b"v=anything").is_err());
    }

    proptest::proptest! {
        /// Whatever the broker sends as its first message, the mechanism answers or errs.
        #[test]
        fn arbitrary_server_first_messages_never_panic(
            first in proptest::collection::vec(proptest::num::u8::ANY, 0..200),
        ) {
            let mut c = ScramClient::new(ScramHash::Sha256, "u", "p").with_nonce("abc");
            c.start().unwrap();
            let _ = c.step(&first);
        }
    }

    proptest::proptest! {
        // Each case hashes 4096 PBKDF2 rounds, slow in debug builds: fewer cases.
        #![proptest_config(proptest::test_runner::Config::with_cases(12))]
        /// Whatever the broker sends as its final message, the mechanism verifies or errs.
        #[test]
        fn arbitrary_server_final_messages_never_panic(
            last in proptest::collection::vec(proptest::num::u8::ANY, 0..200),
        ) {
            let mut c = rfc7677_after_client_final();
            let r = c.step(&last);
            proptest::prop_assert!(r.is_err() || last == b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
        }
    }

    #[test]
    fn debug_hides_the_password() {
        let c = ScramClient::new(ScramHash::Sha256, "user", "hunter2");
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
