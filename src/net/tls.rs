//! The TLS settings as a rustls client config (trust store, client certificate, host name
//! check), and rustls's errors as the crate's typed errors.

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::config::{ConfigError, SecurityConfig};
use crate::error::Error;

/// A rustls client config for `config`: the CA file, directory or PEM text, else the
/// system trust store; the client certificate and key when given. Files are read here, so
/// their errors come from the client's `build()`.
pub(crate) fn client_config(config: &SecurityConfig) -> Result<Arc<rustls::ClientConfig>, Error> {
    let provider = provider();
    let roots = Arc::new(trust_store(config)?);
    let verifier = WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
        .build()
        .map_err(|e| invalid("ssl.truststore.location", "", format!("no usable CA: {e}")))?;
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::TlsHandshake {
            broker: "(none yet)".into(),
            reason: e.to_string(),
        })?;
    let builder = if config.ssl_check_hostname {
        builder.with_webpki_verifier(verifier)
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyHostVerifier { inner: verifier }))
    };
    let tls = match client_identity(config)? {
        Some((chain, key)) => builder
            .with_client_auth_cert(chain, key)
            .map_err(|e| invalid("ssl.key.location", "", format!("unusable key: {e}")))?,
        None => builder.with_no_client_auth(),
    };
    Ok(Arc::new(tls))
}

/// The name to verify a broker's certificate against: its address or DNS name.
pub(crate) fn server_name(host: &str) -> Result<ServerName<'static>, Error> {
    ServerName::try_from(host.to_owned()).map_err(|e| {
        invalid(
            "bootstrap.servers",
            host,
            format!("not a valid TLS server name: {e}"),
        )
    })
}

fn invalid(key: &str, value: &str, reason: impl Into<String>) -> Error {
    Error::Config(ConfigError::invalid(key, value, reason))
}

fn trust_store(config: &SecurityConfig) -> Result<RootCertStore, Error> {
    let mut roots = RootCertStore::empty();
    let mut add = |certs: Vec<CertificateDer<'static>>, key: &str, value: &str| {
        let (added, _) = roots.add_parsable_certificates(certs);
        if added == 0 {
            return Err(invalid(key, value, "holds no usable PEM certificate"));
        }
        Ok(())
    };
    let key = "ssl.truststore.location";
    if let Some(path) = &config.ssl_ca_location {
        let shown = path.display().to_string();
        if path.is_dir() {
            let mut certs = Vec::new();
            let entries =
                std::fs::read_dir(path).map_err(|e| invalid(key, &shown, e.to_string()))?;
            for entry in entries.flatten() {
                let p = entry.path();
                if p.is_file() {
                    // Files that are not PEM certificates (hash links to them, keys) are skipped.
                    certs.extend(
                        CertificateDer::pem_file_iter(&p)
                            .into_iter()
                            .flatten()
                            .flatten(),
                    );
                }
            }
            add(certs, key, &shown)?;
        } else {
            add(read_certs(path, key)?, key, &shown)?;
        }
    }
    if let Some(pem) = &config.ssl_ca_pem {
        let key = "ssl.truststore.certificates";
        add(parse_certs(pem.as_bytes(), key)?, key, "<PEM>")?;
    }
    if config.ssl_ca_location.is_none() && config.ssl_ca_pem.is_none() {
        let native = rustls_native_certs::load_native_certs();
        let (added, _) = roots.add_parsable_certificates(native.certs);
        if added == 0 {
            let why = native
                .errors
                .first()
                .map_or_else(|| "none found".to_owned(), ToString::to_string);
            return Err(invalid(
                key,
                "",
                format!(
                    "the system trust store has no CA certificates ({why}); set ssl.ca.location"
                ),
            ));
        }
    }
    Ok(roots)
}

fn read_certs(path: &Path, key: &str) -> Result<Vec<CertificateDer<'static>>, Error> {
    let bytes = std::fs::read(path)
        .map_err(|e| invalid(key, &path.display().to_string(), e.to_string()))?;
    parse_certs(&bytes, key)
}

fn parse_certs(pem: &[u8], key: &str) -> Result<Vec<CertificateDer<'static>>, Error> {
    CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(key, "<PEM>", format!("bad PEM certificate: {e}")))
}

type Identity = (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>);

/// The client certificate chain and key for mutual TLS, if configured.
fn client_identity(config: &SecurityConfig) -> Result<Option<Identity>, Error> {
    let chain = match (
        &config.ssl_certificate_pem,
        &config.ssl_certificate_location,
    ) {
        (Some(pem), _) => parse_certs(pem.as_bytes(), "ssl.keystore.certificate.chain")?,
        (None, Some(path)) => read_certs(path, "ssl.certificate.location")?,
        (None, None) => Vec::new(),
    };
    let (key_pem, key_name) = match (&config.ssl_key_pem, &config.ssl_key_location) {
        (Some(pem), _) => (pem.clone().into_bytes(), "ssl.keystore.key".to_owned()),
        (None, Some(path)) => {
            let shown = path.display().to_string();
            let bytes = std::fs::read(path)
                .map_err(|e| invalid("ssl.key.location", &shown, e.to_string()))?;
            (bytes, "ssl.key.location".to_owned())
        }
        (None, None) => {
            if chain.is_empty() {
                return Ok(None);
            }
            return Err(invalid(
                "ssl.key.location",
                "",
                "a client certificate needs its private key (ssl.key.location or ssl.key.pem)",
            ));
        }
    };
    if chain.is_empty() {
        return Err(invalid(
            "ssl.certificate.location",
            "",
            "a private key needs its certificate (ssl.certificate.location or ssl.certificate.pem)",
        ));
    }
    let password = config.ssl_key_password.as_ref().map(|p| p.expose());
    let key =
        parse_key(&key_pem, password).map_err(|reason| invalid(&key_name, "<key>", reason))?;
    Ok(Some((chain, key)))
}

/// The private key in `pem`: an encrypted PKCS#8 key is decrypted with `password`.
fn parse_key(pem: &[u8], password: Option<&str>) -> Result<PrivateKeyDer<'static>, String> {
    const BEGIN: &str = "-----BEGIN ENCRYPTED PRIVATE KEY-----";
    const END: &str = "-----END ENCRYPTED PRIVATE KEY-----";
    let text = String::from_utf8_lossy(pem);
    if let Some(start) = text.find(BEGIN) {
        let Some(password) = password else {
            return Err(
                "the key is encrypted: set ssl.key.password (kafka-python: ssl_password)".into(),
            );
        };
        let end = text[start..]
            .find(END)
            .map(|e| start + e + END.len())
            .ok_or("the encrypted key has no END line")?;
        let (_, doc) = pkcs8::der::Document::from_pem(&text[start..end])
            .map_err(|e| format!("bad encrypted PKCS#8 PEM: {e}"))?;
        let info = pkcs8::EncryptedPrivateKeyInfo::try_from(doc.as_bytes())
            .map_err(|e| format!("bad encrypted PKCS#8 key: {e}"))?;
        let plain = info
            .decrypt(password.as_bytes())
            .map_err(|_| "cannot decrypt the key: wrong ssl.key.password?".to_owned())?;
        return Ok(PrivatePkcs8KeyDer::from(plain.as_bytes().to_vec()).into());
    }
    PrivateKeyDer::from_pem_slice(pem).map_err(|e| format!("no PEM private key found: {e}"))
}

/// Verifies the chain and validity as usual but accepts any host name
/// (`ssl.endpoint.identification.algorithm=none`).
#[derive(Debug)]
struct AnyHostVerifier {
    inner: Arc<WebPkiServerVerifier>,
}

impl ServerCertVerifier for AnyHostVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// A rustls error during the handshake with `broker` (reached as `host`) as the typed
/// error that says what to fix.
pub(crate) fn handshake_error(e: &rustls::Error, broker: &str, host: &str) -> Error {
    use rustls::AlertDescription as Alert;
    let broker = broker.to_owned();
    let reason = e.to_string();
    match e {
        rustls::Error::InvalidCertificate(c) => match c {
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                Error::CertificateHostnameMismatch {
                    broker,
                    host: host.to_owned(),
                    reason,
                }
            }
            CertificateError::Expired
            | CertificateError::ExpiredContext { .. }
            | CertificateError::NotValidYet
            | CertificateError::NotValidYetContext { .. } => {
                Error::CertificateExpired { broker, reason }
            }
            CertificateError::UnknownIssuer
            | CertificateError::BadSignature
            | CertificateError::BadEncoding => Error::CertificateNotTrusted { broker, reason },
            _ => Error::TlsHandshake { broker, reason },
        },
        rustls::Error::InvalidMessage(_) | rustls::Error::InappropriateMessage { .. } => {
            Error::NotTlsListener { broker }
        }
        rustls::Error::AlertReceived(
            Alert::CertificateRequired | Alert::BadCertificate | Alert::HandshakeFailure,
        ) => Error::TlsHandshake {
            broker,
            reason: format!(
                "{reason}: the broker refused the client; if it requires client \
                 certificates (ssl.client.auth=required), set ssl.certificate.location and \
                 ssl.key.location to a certificate its truststore accepts"
            ),
        },
        rustls::Error::AlertReceived(Alert::UnknownCA) => Error::TlsHandshake {
            broker,
            reason: format!("{reason}: the broker does not trust the client certificate's CA"),
        },
        _ => Error::TlsHandshake { broker, reason },
    }
}

/// The ring crypto provider. rustls deprecates it for lacking post-quantum key exchange,
/// but its alternative (aws-lc-rs) needs cmake and a C toolchain to build.
#[allow(deprecated)]
pub(crate) fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encrypted_keys_need_their_password() {
        let e = parse_key(
            b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nAA==\n-----END ENCRYPTED PRIVATE KEY-----\n",
            None,
        )
        .unwrap_err();
        assert!(e.contains("ssl.key.password"), "{e}");
        let e = parse_key(
            b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nAA==\n-----END ENCRYPTED PRIVATE KEY-----\n",
            Some("x"),
        )
        .unwrap_err();
        assert!(e.contains("encrypted PKCS#8"), "{e}");
        assert!(parse_key(b"no key here", None).is_err());
    }

    #[test]
    fn missing_files_are_config_errors() {
        let c = SecurityConfig {
            ssl_ca_location: Some("/nonexistent/ca.pem".into()),
            ..Default::default()
        };
        assert!(matches!(client_config(&c), Err(Error::Config(_))));
        let c = SecurityConfig {
            ssl_ca_pem: Some("not pem".into()),
            ..Default::default()
        };
        assert!(matches!(client_config(&c), Err(Error::Config(_))));
    }

    #[test]
    fn a_ca_directory_is_read_file_by_file() {
        let dir = std::env::temp_dir().join(format!("kafka-sync-ca-dir-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ca = include_str!("session/testdata/ca.pem");
        std::fs::write(dir.join("ca.pem"), ca).unwrap();
        std::fs::write(dir.join("README"), "not a certificate").unwrap();
        let c = SecurityConfig {
            ssl_ca_location: Some(dir.clone()),
            ..Default::default()
        };
        let built = client_config(&c);
        std::fs::write(dir.join("ca.pem"), "").unwrap();
        let empty = client_config(&c);
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(built.is_ok(), "{:?}", built.err());
        assert!(
            matches!(empty, Err(Error::Config(_))),
            "a directory with no CA"
        );
    }

    #[test]
    fn verifier_errors_map_to_typed_errors() {
        let e = |c| handshake_error(&rustls::Error::InvalidCertificate(c), "b", "h");
        assert!(matches!(
            e(CertificateError::UnknownIssuer),
            Error::CertificateNotTrusted { .. }
        ));
        assert!(matches!(
            e(CertificateError::Expired),
            Error::CertificateExpired { .. }
        ));
        assert!(matches!(
            e(CertificateError::NotValidForName),
            Error::CertificateHostnameMismatch { .. }
        ));
    }
}
