//! HTTPS for the emulator, so Kinde's SDKs that insist on `https://` work against it unchanged.
//!
//! A local CA (ECDSA P-256, from rcgen on aws-lc-rs) is kept in a directory of the user's cache:
//! the same CA across restarts, so a runtime told to trust it once keeps trusting it, and a new
//! one when it is near its end. The CA may only vouch for loopback names (X.509 name
//! constraints: `localhost`, 127.0.0.0/8 and ::1), so trusting it, even globally, can never let it
//! impersonate another host. Each start issues a fresh server certificate for `localhost`,
//! `127.0.0.1` and `::1`, held only in memory.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, CidrSubnet, DnType, ExtendedKeyUsagePurpose,
    GeneralSubtree, IsCa, Issuer, KeyPair, KeyUsagePurpose, NameConstraints,
};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::error::Error;

/// The CA certificate (PEM) in the TLS directory: what `NODE_EXTRA_CA_CERTS` names. Written
/// from [`RECORD_FILE`] on each start.
pub const CA_FILE: &str = "ca.pem";
/// The system's roots plus the CA (PEM), for variables that replace the system's roots
/// (`SSL_CERT_FILE`, `REQUESTS_CA_BUNDLE`).
pub const BUNDLE_FILE: &str = "ca-bundle.pem";
/// The CA itself: its key, its certificate and when it expires, in one file (0600) so that it
/// appears whole or not at all. Emulators starting together on an empty cache each make a CA,
/// but only one record is linked into place (a link never replaces a file) and every one of
/// them issues from the record on disk, so all serve certificates the exported CA verifies.
const RECORD_FILE: &str = "ca.json";

/// The comment the emulator writes above the CA variables of an env file.
pub const ENV_COMMENT: &str =
    "# The emulator's local CA (loopback names only), for Node, OpenSSL and Python.";

/// The variables the emulator sets in an env file to trust its CA, each with the file it names.
pub const ENV_VARIABLES: [(&str, &str); 3] = [
    ("NODE_EXTRA_CA_CERTS", CA_FILE),
    ("SSL_CERT_FILE", BUNDLE_FILE),
    ("REQUESTS_CA_BUNDLE", BUNDLE_FILE),
];

/// Whether `name=value` in an env file is one the emulator wrote: a CA variable naming the file
/// it writes, in `dir` (the CA directory now) or in a directory that holds an emulator CA
/// ([`RECORD_FILE`]; the cache directory may have moved since). A user's own CA is neither.
pub fn wrote_env(name: &str, value: &str, dir: Option<&Path>) -> bool {
    let path = Path::new(value);
    let Some(parent) = path.parent() else {
        return false;
    };
    ENV_VARIABLES
        .iter()
        .any(|(var, file)| *var == name && path.file_name() == Some(std::ffi::OsStr::new(file)))
        && (dir == Some(parent) || parent.join(RECORD_FILE).is_file())
}

/// [`RECORD_FILE`]'s contents.
#[derive(serde::Serialize, serde::Deserialize)]
struct Record {
    /// The CA's private key (PEM).
    key: String,
    /// The CA's certificate (PEM).
    cert: String,
    /// When the CA expires, in seconds since the epoch: rcgen writes certificates but does not
    /// read them back, and a date kept beside the certificate spares a DER parser.
    expires: u64,
}

const DAY: u64 = 86_400;
const CA_LIFETIME: u64 = 5 * 365 * DAY;
/// A CA this close to its end is replaced, so a server certificate never outlives it.
const RENEW_BEFORE: u64 = 30 * DAY;
const SERVER_LIFETIME: u64 = 365 * DAY;
/// How long a client may take over its TLS handshake before the connection is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_FILE: usize = 1024 * 1024;

/// The emulator's TLS material: where its CA is, and the server configuration.
pub struct Tls {
    /// The CA certificate file.
    pub ca_file: PathBuf,
    /// The system roots plus the CA.
    pub bundle_file: PathBuf,
    /// The CA (PEM) this run's server certificate was issued by: the one in [`Tls::ca_file`].
    pub ca_pem: String,
    config: Arc<rustls::ServerConfig>,
}

/// The CA as loaded or made.
struct Ca {
    key: KeyPair,
    pem: String,
    expires: u64,
}

/// Load the CA kept in `dir` (created private, 0700) or make one, write the bundle, and issue
/// this run's server certificate.
pub fn prepare(dir: &Path) -> Result<Tls, Error> {
    let now = crate::clock::now();
    let ca = match load(dir, now)? {
        Some(ca) => ca,
        None => create(dir, now)?,
    };
    let ca_file = dir.join(CA_FILE);
    let bundle_file = dir.join(BUNDLE_FILE);
    // Every run sharing the record writes the same bytes here, each write a rename.
    crate::files::write_cached(dir, &ca_file, ca.pem.as_bytes())?;
    crate::files::write_cached(dir, &bundle_file, bundle(&ca.pem).as_bytes())?;
    let (cert, key) = issue(&ca, &["localhost", "127.0.0.1", "::1"], now)?;
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .and_then(|b| b.with_no_client_auth().with_single_cert(vec![cert], key))
    .map_err(|e| Error::local("cannot set up the emulator's TLS", std::io::Error::other(e)))?;
    // The emulator serves HTTP/1.1 only.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Tls {
        ca_file,
        bundle_file,
        ca_pem: ca.pem,
        config: Arc::new(config),
    })
}

impl Tls {
    /// Serve TLS on `tcp`: handshakes run concurrently (a slow client holds up no one) and
    /// stop after [`HANDSHAKE_TIMEOUT`]; only finished ones reach the HTTP server.
    pub fn listen(&self, tcp: TcpListener) -> Result<TlsListener, Error> {
        let local = tcp
            .local_addr()
            .map_err(|e| Error::network(format!("cannot read the bound address: {e}")))?;
        let acceptor = tokio_rustls::TlsAcceptor::from(self.config.clone());
        let (ready, incoming) = tokio::sync::mpsc::channel(64);
        let task = tokio::spawn(async move {
            loop {
                let (stream, peer) = match tcp.accept().await {
                    Ok(accepted) => accepted,
                    // Out of file descriptors and the like: wait rather than spin.
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let acceptor = acceptor.clone();
                let ready = ready.clone();
                tokio::spawn(async move {
                    if let Ok(Ok(tls)) =
                        tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await
                    {
                        let _ = ready.send((tls, peer)).await;
                    }
                });
            }
        });
        Ok(TlsListener {
            incoming,
            local,
            task,
        })
    }
}

/// A listener handing the HTTP server connections whose TLS handshake has finished.
pub struct TlsListener {
    incoming: tokio::sync::mpsc::Receiver<(tokio_rustls::server::TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        // Stops accepting: the server dropped its listener at shutdown.
        self.task.abort();
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.incoming.recv().await {
            Some(accepted) => accepted,
            // The accepting task ended (only when aborted): nothing will arrive again.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        Ok(self.local)
    }
}

/// The CA in `dir` if its record is there, readable, consistent and not near its end.
fn load(dir: &Path, now: u64) -> Result<Option<Ca>, Error> {
    Ok(
        crate::files::read_cached(dir, &dir.join(RECORD_FILE), MAX_FILE)?
            .and_then(|bytes| parse(&bytes, now)),
    )
}

/// A record's CA, if it is consistent and not near its end.
fn parse(bytes: &[u8], now: u64) -> Option<Ca> {
    let record = serde_json::from_slice::<Record>(bytes).ok()?;
    let key = KeyPair::from_pem(&record.key).ok()?;
    let der = CertificateDer::from_pem_slice(record.cert.as_bytes()).ok()?;
    // The certificate carries its public key verbatim: a key and certificate from two
    // different CAs would issue certificates no client could verify.
    let public = key.public_key_raw();
    let matches = der.windows(public.len()).any(|w| w == public);
    if !matches || record.expires <= now.saturating_add(RENEW_BEFORE) {
        return None;
    }
    Some(Ca {
        key,
        pem: record.cert,
        expires: record.expires,
    })
}

/// Make a CA and put it in `dir` unless another run got there first; the CA on disk after.
fn create(dir: &Path, now: u64) -> Result<Ca, Error> {
    let made = make(now)?;
    let record = Record {
        key: made.key.serialize_pem(),
        cert: made.pem,
        expires: made.expires,
    };
    let json = serde_json::to_vec(&record)
        .map_err(|e| Error::local("cannot encode the emulator's CA", std::io::Error::other(e)))?;
    let target = dir.join(RECORD_FILE);
    let temp = dir.join(format!(
        ".ca-{}.json",
        crate::emulator::tenant::random_hex(8)
    ));
    crate::files::write_cached(dir, &temp, &json)?;
    let mut linked = std::fs::hard_link(&temp, &target);
    if linked
        .as_ref()
        .is_err_and(|e| e.kind() == std::io::ErrorKind::AlreadyExists)
        && load(dir, now)?.is_none()
    {
        // A record that is unreadable or near its end: move it aside and link ours.
        let aside = dir.join(format!(
            ".ca-old-{}.json",
            crate::emulator::tenant::random_hex(8)
        ));
        if std::fs::rename(&target, &aside).is_ok() {
            // Another run renewed it between our look and the move: put theirs back.
            let theirs = crate::files::read_cached(dir, &aside, MAX_FILE)?;
            if theirs.is_some_and(|bytes| parse(&bytes, now).is_some()) {
                let _ = std::fs::hard_link(&aside, &target);
            }
            let _ = std::fs::remove_file(&aside);
        }
        linked = std::fs::hard_link(&temp, &target);
    }
    let _ = std::fs::remove_file(&temp);
    match linked {
        // Lost the race: the winner's record is the CA.
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => {
            return Err(Error::file("link", &target, e));
        }
        _ => {}
    }
    load(dir, now)?.ok_or_else(|| {
        Error::local(
            "the emulator's CA changed while it was being made",
            std::io::Error::other(target.display().to_string()),
        )
        .with_hint("start the emulator again")
    })
}

/// A new CA, in memory.
fn make(now: u64) -> Result<Ca, Error> {
    let key = KeyPair::generate().map_err(tls_error)?;
    let expires = now + CA_LIFETIME;
    let mut params = ca_params();
    validity(&mut params, now.saturating_sub(DAY), expires);
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.name_constraints = Some(NameConstraints {
        permitted_subtrees: vec![
            GeneralSubtree::DnsName("localhost".into()),
            GeneralSubtree::IpAddress(CidrSubnet::from_v4_prefix([127, 0, 0, 0], 8)),
            GeneralSubtree::IpAddress(CidrSubnet::from_v6_prefix(
                std::net::Ipv6Addr::LOCALHOST.octets(),
                128,
            )),
        ],
        excluded_subtrees: vec![],
    });
    let pem = params.self_signed(&key).map_err(tls_error)?.pem();
    Ok(Ca { key, pem, expires })
}

/// What identifies the CA to the certificates it issues: the same on every run, so a CA loaded
/// from disk issues exactly as the one that was made.
fn ca_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::OrganizationName, "cargo-kinde");
    params.distinguished_name.push(
        DnType::CommonName,
        "cargo-kinde emulator local CA (loopback only)",
    );
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params
}

/// A server certificate for `names` signed by `ca`, and its key.
fn issue(
    ca: &Ca,
    names: &[&str],
    now: u64,
) -> Result<(CertificateDer<'static>, PrivateKeyDer<'static>), Error> {
    let key = KeyPair::generate().map_err(tls_error)?;
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let mut params = CertificateParams::new(names.clone()).map_err(tls_error)?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(
        DnType::CommonName,
        names.first().cloned().unwrap_or_default(),
    );
    validity(
        &mut params,
        now.saturating_sub(DAY),
        (now + SERVER_LIFETIME).min(ca.expires),
    );
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    let issuer = Issuer::new(ca_params(), &ca.key);
    let cert = params.signed_by(&key, &issuer).map_err(tls_error)?;
    let key = PrivateKeyDer::Pkcs8(key.serialize_der().into());
    Ok((cert.der().clone(), key))
}

/// The system's roots (as rustls-native-certs finds them) followed by the CA: a file that can
/// stand in for the system bundle without losing any host it trusted.
fn bundle(ca_pem: &str) -> String {
    use base64::Engine as _;
    let mut out = String::new();
    for cert in rustls_native_certs::load_native_certs().certs {
        let b64 = base64::engine::general_purpose::STANDARD.encode(cert.as_ref());
        out.push_str("-----BEGIN CERTIFICATE-----\n");
        for line in b64.as_bytes().chunks(64) {
            out.push_str(&String::from_utf8_lossy(line));
            out.push('\n');
        }
        out.push_str("-----END CERTIFICATE-----\n");
    }
    out.push_str(ca_pem);
    out
}

/// Valid from `from` to `to`, in seconds since the epoch (rcgen's date type, not named here,
/// is the `time` crate's).
fn validity(params: &mut CertificateParams, from: u64, to: u64) {
    params.not_before = rcgen::date_time_ymd(1970, 1, 1) + Duration::from_secs(from);
    params.not_after = rcgen::date_time_ymd(1970, 1, 1) + Duration::from_secs(to);
}

fn tls_error(e: rcgen::Error) -> Error {
    Error::local(
        "cannot make the emulator's TLS certificates",
        std::io::Error::other(e),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Serve one TLS connection on 127.0.0.1 with a certificate for `names` from `ca`, and try
    /// an https request to `host` (resolved to that address) trusting only the CA.
    async fn handshake(ca: &Ca, names: &[&str], host: &str) -> Result<(), String> {
        let (cert, key) = issue(ca, names, crate::clock::now()).unwrap();
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap();
        let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = tcp.local_addr().unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            if let Ok((stream, _)) = tcp.accept().await
                && let Ok(mut tls) = acceptor.accept(stream).await
            {
                let _ = tls
                    .write_all(b"HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n")
                    .await;
                let _ = tls.shutdown().await;
            }
        });
        let root = reqwest::Certificate::from_pem(ca.pem.as_bytes()).unwrap();
        let client = reqwest::Client::builder()
            .tls_certs_only([root])
            .resolve(host, addr)
            .build()
            .unwrap();
        client
            .get(format!("https://{host}:{}/", addr.port()))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| format!("{e:?}"))
    }

    #[tokio::test]
    async fn the_ca_vouches_for_loopback_names_only() {
        let dir = tempfile::tempdir().unwrap();
        let ca = create(dir.path(), crate::clock::now()).unwrap();
        handshake(&ca, &["localhost"], "localhost").await.unwrap();
        // Even a client that trusts the CA refuses a certificate it issued for another host:
        // the name constraints, not the client's restraint, keep it to loopback.
        let err = handshake(&ca, &["evil.example"], "evil.example")
            .await
            .unwrap_err();
        assert!(err.to_lowercase().contains("certificate"), "{err}");
    }

    #[test]
    fn emulators_started_together_share_the_ca_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("emulator");
        let barrier = Arc::new(std::sync::Barrier::new(6));
        let runs: Vec<_> = (0..6)
            .map(|_| {
                let root = root.clone();
                let barrier = barrier.clone();
                std::thread::spawn(move || {
                    barrier.wait();
                    prepare(&root).map(|tls| tls.ca_pem)
                })
            })
            .collect();
        let issued: Vec<String> = runs
            .into_iter()
            .map(|run| run.join().unwrap().unwrap())
            .collect();
        let on_disk = std::fs::read_to_string(root.join(CA_FILE)).unwrap();
        for ca in &issued {
            assert_eq!(ca, &on_disk, "a server certificate from a CA not on disk");
        }
        assert!(load(&root, crate::clock::now()).unwrap().is_some());
    }

    #[test]
    fn the_ca_is_kept_and_replaced_near_its_end() {
        let dir = tempfile::tempdir().unwrap();
        let now = crate::clock::now();
        let first = create(dir.path(), now).unwrap();
        let kept = load(dir.path(), now).unwrap().expect("kept");
        assert_eq!(kept.pem, first.pem);
        // Near its end it is not loaded, so prepare makes another.
        let late = first.expires - RENEW_BEFORE + 1;
        assert!(load(dir.path(), late).unwrap().is_none());
        // A key from another run does not match the certificate.
        let other = KeyPair::generate().unwrap();
        let record = Record {
            key: other.serialize_pem(),
            cert: first.pem.clone(),
            expires: first.expires,
        };
        crate::files::write_cached(
            dir.path(),
            &dir.path().join(RECORD_FILE),
            &serde_json::to_vec(&record).unwrap(),
        )
        .unwrap();
        assert!(load(dir.path(), now).unwrap().is_none());
        let tls = prepare(dir.path()).unwrap();
        let renewed = std::fs::read_to_string(&tls.ca_file).unwrap();
        assert_ne!(renewed, first.pem);
        assert!(load(dir.path(), now).unwrap().is_some());
    }
}
