//! TLS for the PostgreSQL connections (rustls, the same stack reqwest uses for model providers).
//!
//! Connection strings carry libpq's `sslmode` and `sslrootcert`; tokio-postgres only knows
//! `disable | prefer | require` and no `sslrootcert`, so both are taken out of the string here
//! and turned into a rustls configuration:
//!
//! | sslmode | encrypted | certificate checked |
//! | --- | --- | --- |
//! | `disable` | no | – |
//! | `allow`, `prefer` (default) | when the server offers it | no |
//! | `require`, `no-verify` (node-postgres) | yes | no — unless `sslrootcert` is given: then as `verify-ca` (libpq) |
//! | `verify-ca` | yes | chain, against `sslrootcert` or the bundled Mozilla roots |
//! | `verify-full` | yes | chain and host name |
//!
//! `sslrootcert` is a PEM file, or `system` for the bundled Mozilla roots. Channel binding
//! (SCRAM-SHA-256-PLUS) is not offered; SCRAM-SHA-256 and the other methods work over TLS.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
  CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::config::SslMode;
use tokio_postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect};

use crate::error::{Result, StoreError};

/// How a connection is secured (libpq's `sslmode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsMode {
  Disable,
  /// TLS when the server offers it, certificate not checked (`allow`, `prefer`).
  Prefer,
  /// TLS or fail, certificate not checked.
  Require,
  /// TLS, certificate chain checked, host name not.
  VerifyCa,
  /// TLS, certificate chain and host name checked.
  VerifyFull,
}

impl TlsMode {
  pub fn parse(s: &str) -> Result<TlsMode> {
    Ok(match s {
      "disable" => TlsMode::Disable,
      "allow" | "prefer" => TlsMode::Prefer,
      "require" | "no-verify" => TlsMode::Require,
      "verify-ca" => TlsMode::VerifyCa,
      "verify-full" => TlsMode::VerifyFull,
      other => {
        return Err(StoreError::invalid(format!(
          "invalid sslmode {other:?}: use disable, prefer, require, verify-ca or verify-full"
        )));
      }
    })
  }

  /// What tokio-postgres is told (it knows no verification modes: those are rustls's).
  pub(crate) fn ssl_mode(self) -> SslMode {
    match self {
      TlsMode::Disable => SslMode::Disable,
      TlsMode::Prefer => SslMode::Prefer,
      _ => SslMode::Require,
    }
  }
}

/// Trusted roots for `verify-ca` / `verify-full`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TlsRoots {
  /// The Mozilla roots bundled with Lumos (webpki-roots).
  Bundled,
  /// PEM text holding one or more CA certificates.
  Pem(String),
}

/// TLS settings of a PostgreSQL connection: the connection string's, or given explicitly
/// (`ssl` in the JS config), which then take precedence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsOptions {
  pub mode: TlsMode,
  pub roots: TlsRoots,
}

impl Default for TlsOptions {
  fn default() -> Self {
    TlsOptions {
      mode: TlsMode::Prefer,
      roots: TlsRoots::Bundled,
    }
  }
}

fn percent_decode(s: &str) -> String {
  let bytes = s.as_bytes();
  let mut out = Vec::with_capacity(bytes.len());
  let mut i = 0;
  while i < bytes.len() {
    let hex = |b: u8| (b as char).to_digit(16);
    match (
      bytes[i],
      bytes.get(i + 1).copied().and_then(hex),
      bytes.get(i + 2).copied().and_then(hex),
    ) {
      (b'%', Some(h), Some(l)) => {
        out.push((h * 16 + l) as u8);
        i += 3;
      }
      (b'+', _, _) => {
        out.push(b' ');
        i += 1;
      }
      (b, _, _) => {
        out.push(b);
        i += 1;
      }
    }
  }
  String::from_utf8_lossy(&out).into_owned()
}

fn read_root_file(path: &str) -> Result<TlsRoots> {
  if path == "system" {
    return Ok(TlsRoots::Bundled);
  }
  std::fs::read_to_string(path).map(TlsRoots::Pem).map_err(|e| {
    StoreError::invalid(format!(
      "sslrootcert: cannot read {path}: {e}; give the path of a PEM file with the server's CA certificate(s), or sslrootcert=system"
    ))
  })
}

/// Takes `sslmode` and `sslrootcert` (plus the unsupported client-certificate keys, which are
/// refused) out of a URL or key=value connection string; returns the rest for tokio-postgres
/// and the TLS options they set.
pub(crate) fn split_tls_params(url: &str) -> Result<(String, TlsOptions)> {
  let mut mode: Option<TlsMode> = None;
  let mut root: Option<String> = None;
  let mut take = |key: &str, value: String| -> Result<bool> {
    match key {
      "sslmode" => mode = Some(TlsMode::parse(&value)?),
      "sslrootcert" => root = Some(value),
      "sslcert" | "sslkey" | "sslpassword" | "sslcrl" | "sslcrldir" => {
        return Err(StoreError::invalid(format!(
          "{key} is not supported: client certificates and CRLs are not implemented; authenticate with a password over TLS"
        )));
      }
      _ => return Ok(false),
    }
    Ok(true)
  };
  let rest = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
    match url.split_once('?') {
      None => url.to_string(),
      Some((base, query)) => {
        let mut kept = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
          let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
          if !take(&percent_decode(k), percent_decode(v))? {
            kept.push(pair);
          }
        }
        if kept.is_empty() {
          base.to_string()
        } else {
          format!("{base}?{}", kept.join("&"))
        }
      }
    }
  } else {
    // key=value form; values of the TLS keys are taken unquoted.
    let mut kept = Vec::new();
    for token in url.split_whitespace() {
      let consumed = match token.split_once('=') {
        Some((k, v)) => take(k, v.trim_matches('\'').to_string())?,
        None => false,
      };
      if !consumed {
        kept.push(token);
      }
    }
    kept.join(" ")
  };
  let roots = match &root {
    Some(path) => read_root_file(path)?,
    None => TlsRoots::Bundled,
  };
  // libpq: `require` with a root certificate given verifies the chain.
  let mode = match (mode.unwrap_or(TlsMode::Prefer), &root) {
    (TlsMode::Require, Some(_)) => TlsMode::VerifyCa,
    (m, _) => m,
  };
  Ok((rest, TlsOptions { mode, roots }))
}

fn root_store(roots: &TlsRoots) -> Result<RootCertStore> {
  let mut store = RootCertStore::empty();
  match roots {
    TlsRoots::Bundled => store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    TlsRoots::Pem(pem) => {
      for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
        let cert = cert.map_err(|e| {
          StoreError::invalid(format!("the root certificate PEM is unreadable: {e}"))
        })?;
        store
          .add(cert)
          .map_err(|e| StoreError::invalid(format!("a root certificate is not usable: {e}")))?;
      }
      if store.is_empty() {
        return Err(StoreError::invalid(
          "the root certificate PEM holds no certificate (expected -----BEGIN CERTIFICATE-----)",
        ));
      }
    }
  }
  Ok(store)
}

/// What the certificate check asks of the server; handshake signatures are always verified,
/// so the session key is the certificate holder's.
#[derive(Debug)]
struct PgVerifier {
  /// `None`: any certificate (libpq's `prefer` / `require`: encrypted, not authenticated).
  chain: Option<Arc<WebPkiServerVerifier>>,
  /// `verify-ca`: a certificate issued for another name is accepted.
  ignore_name: bool,
  algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for PgVerifier {
  fn verify_server_cert(
    &self,
    end_entity: &CertificateDer<'_>,
    intermediates: &[CertificateDer<'_>],
    server_name: &ServerName<'_>,
    ocsp: &[u8],
    now: UnixTime,
  ) -> std::result::Result<ServerCertVerified, rustls::Error> {
    let Some(chain) = &self.chain else {
      return Ok(ServerCertVerified::assertion());
    };
    match chain.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
      Err(rustls::Error::InvalidCertificate(
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
      )) if self.ignore_name => Ok(ServerCertVerified::assertion()),
      other => other,
    }
  }
  fn verify_tls12_signature(
    &self,
    message: &[u8],
    cert: &CertificateDer<'_>,
    dss: &DigitallySignedStruct,
  ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
    rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
  }
  fn verify_tls13_signature(
    &self,
    message: &[u8],
    cert: &CertificateDer<'_>,
    dss: &DigitallySignedStruct,
  ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
    rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
  }
  fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
    self.algorithms.supported_schemes()
  }
}

/// The rustls client configuration for `tls` (built once per store; every pooled connection
/// shares it).
pub(crate) fn make_tls(tls: &TlsOptions) -> Result<MakeRustls> {
  let provider = Arc::new(rustls::crypto::ring::default_provider());
  let chain = match tls.mode {
    TlsMode::Disable | TlsMode::Prefer | TlsMode::Require => None,
    TlsMode::VerifyCa | TlsMode::VerifyFull => Some(
      WebPkiServerVerifier::builder_with_provider(
        Arc::new(root_store(&tls.roots)?),
        provider.clone(),
      )
      .build()
      .map_err(|e| StoreError::invalid(format!("TLS setup failed: {e}")))?,
    ),
  };
  let verifier = PgVerifier {
    chain,
    ignore_name: tls.mode == TlsMode::VerifyCa,
    algorithms: provider.signature_verification_algorithms,
  };
  let config = ClientConfig::builder_with_provider(provider)
    .with_safe_default_protocol_versions()
    .map_err(|e| StoreError::invalid(format!("TLS setup failed: {e}")))?
    .dangerous()
    .with_custom_certificate_verifier(Arc::new(verifier))
    .with_no_client_auth();
  Ok(MakeRustls(Arc::new(config)))
}

/// tokio-postgres' TLS hook over rustls.
#[derive(Clone)]
pub(crate) struct MakeRustls(Arc<ClientConfig>);

impl<S> MakeTlsConnect<S> for MakeRustls
where
  S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
  type Stream = RustlsStream<S>;
  type TlsConnect = RustlsConnect;
  type Error = io::Error;

  fn make_tls_connect(&mut self, host: &str) -> io::Result<RustlsConnect> {
    let name = ServerName::try_from(host.to_string()).map_err(|e| {
      io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("TLS server name {host:?}: {e}"),
      )
    })?;
    Ok(RustlsConnect {
      config: self.0.clone(),
      name,
    })
  }
}

pub(crate) struct RustlsConnect {
  config: Arc<ClientConfig>,
  name: ServerName<'static>,
}

impl<S> TlsConnect<S> for RustlsConnect
where
  S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
  type Stream = RustlsStream<S>;
  type Error = io::Error;
  type Future = Pin<Box<dyn Future<Output = io::Result<RustlsStream<S>>> + Send>>;

  fn connect(self, stream: S) -> Self::Future {
    Box::pin(async move {
      let connector = tokio_rustls::TlsConnector::from(self.config);
      connector
        .connect(self.name, stream)
        .await
        .map(|s| RustlsStream(Box::new(s)))
    })
  }
}

pub(crate) struct RustlsStream<S>(Box<tokio_rustls::client::TlsStream<S>>);

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for RustlsStream<S> {
  fn poll_read(
    mut self: Pin<&mut Self>,
    cx: &mut Context<'_>,
    buf: &mut ReadBuf<'_>,
  ) -> Poll<io::Result<()>> {
    Pin::new(&mut *self.0).poll_read(cx, buf)
  }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for RustlsStream<S> {
  fn poll_write(
    mut self: Pin<&mut Self>,
    cx: &mut Context<'_>,
    buf: &[u8],
  ) -> Poll<io::Result<usize>> {
    Pin::new(&mut *self.0).poll_write(cx, buf)
  }
  fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
    Pin::new(&mut *self.0).poll_flush(cx)
  }
  fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
    Pin::new(&mut *self.0).poll_shutdown(cx)
  }
}

impl<S: AsyncRead + AsyncWrite + Unpin> tokio_postgres::tls::TlsStream for RustlsStream<S> {
  fn channel_binding(&self) -> ChannelBinding {
    ChannelBinding::none()
  }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
  use super::*;

  #[test]
  fn tls_keys_leave_the_url_and_set_the_mode() {
    let (rest, tls) = split_tls_params(
      "postgres://u:p@db.example.com:5432/app?sslmode=verify-full&application_name=x",
    )
    .unwrap();
    assert_eq!(
      rest,
      "postgres://u:p@db.example.com:5432/app?application_name=x"
    );
    assert_eq!(tls.mode, TlsMode::VerifyFull);
    assert_eq!(tls.roots, TlsRoots::Bundled);
    let (rest, tls) = split_tls_params("postgres://u@h/app?sslmode=no-verify").unwrap();
    assert_eq!(
      (rest.as_str(), tls.mode),
      ("postgres://u@h/app", TlsMode::Require)
    );
    let (rest, tls) = split_tls_params("postgres://u@h/app").unwrap();
    assert_eq!(
      (rest.as_str(), tls.mode),
      ("postgres://u@h/app", TlsMode::Prefer)
    );
    let (rest, tls) = split_tls_params("host=h user=u sslmode=disable dbname=d").unwrap();
    assert_eq!(
      (rest.as_str(), tls.mode),
      ("host=h user=u dbname=d", TlsMode::Disable)
    );
    // `require` with a root file verifies the chain (libpq); `system` means the bundled roots.
    let (_, tls) = split_tls_params("postgres://h/d?sslmode=require&sslrootcert=system").unwrap();
    assert_eq!(
      (tls.mode, tls.roots),
      (TlsMode::VerifyCa, TlsRoots::Bundled)
    );
  }

  #[test]
  fn bad_tls_settings_are_refused_with_what_to_do() {
    let e = split_tls_params("postgres://h/d?sslmode=sometimes").unwrap_err();
    assert!(e.to_string().contains("verify-full"), "{e}");
    let e = split_tls_params("postgres://h/d?sslmode=verify-ca&sslrootcert=/nonexistent/ca.pem")
      .unwrap_err();
    assert!(
      e.to_string().contains("cannot read /nonexistent/ca.pem"),
      "{e}"
    );
    let e = split_tls_params("postgres://h/d?sslcert=/x.pem").unwrap_err();
    assert!(e.to_string().contains("client certificates"), "{e}");
    let e = make_tls(&TlsOptions {
      mode: TlsMode::VerifyFull,
      roots: TlsRoots::Pem("not a pem".into()),
    })
    .err()
    .unwrap();
    assert!(e.to_string().contains("no certificate"), "{e}");
  }

  #[test]
  fn percent_encoded_values_are_decoded() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("my ca.pem");
    std::fs::write(&path, "x").unwrap();
    let encoded = path.to_str().unwrap().replace(' ', "%20");
    let (_, tls) = split_tls_params(&format!(
      "postgres://h/d?sslrootcert={encoded}&sslmode=verify-full"
    ))
    .unwrap();
    assert_eq!(tls.roots, TlsRoots::Pem("x".into()));
  }
}
