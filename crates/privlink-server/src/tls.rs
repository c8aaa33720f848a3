//! The server certificate: a local CA and a leaf for `127.0.0.1`, `localhost` and `::1`,
//! generated on first start and kept in the data directory so clients can trust the CA once
//! (`REQUESTS_CA_BUNDLE`, `NODE_EXTRA_CA_CERTS`).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
};

pub struct TlsFiles {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl TlsFiles {
    pub fn in_dir(data_dir: &Path) -> TlsFiles {
        TlsFiles { ca: data_dir.join("ca.pem"), cert: data_dir.join("cert.pem"), key: data_dir.join("key.pem") }
    }
}

/// Write a secret file readable by its owner only.
pub fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).with_context(|| format!("writing {}", path.display()))?;
    file.write_all(contents.as_bytes())?;
    Ok(())
}

/// Load the certificate files, generating them on first start.
pub fn ensure(data_dir: &Path) -> anyhow::Result<TlsFiles> {
    let files = TlsFiles::in_dir(data_dir);
    if files.ca.exists() && files.cert.exists() && files.key.exists() {
        return Ok(files);
    }
    let ca_key = KeyPair::generate()?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(DnType::CommonName, "privlink local CA");
    ca_params.distinguished_name.push(DnType::OrganizationName, "privlink");
    ca_params.key_usages =
        vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    let ca_cert = ca_params.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca_params, ca_key);

    let leaf_key = KeyPair::generate()?;
    let mut leaf_params =
        CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string(), "::1".to_string()])?;
    leaf_params.distinguished_name.push(DnType::CommonName, "127.0.0.1");
    leaf_params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf_params.use_authority_key_identifier_extension = true;
    let leaf = leaf_params.signed_by(&leaf_key, &issuer)?;

    std::fs::write(&files.ca, ca_cert.pem()).with_context(|| format!("writing {}", files.ca.display()))?;
    // The served chain: leaf, then the CA.
    std::fs::write(&files.cert, format!("{}{}", leaf.pem(), ca_cert.pem()))?;
    write_private(&files.key, &leaf_key.serialize_pem())?;
    Ok(files)
}

pub fn server_config(files: &TlsFiles) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    let certs = rustls_pemfile::certs(&mut std::io::BufReader::new(std::fs::File::open(&files.cert)?))
        .collect::<Result<Vec<_>, _>>()
        .context("reading cert.pem")?;
    let key = rustls_pemfile::private_key(&mut std::io::BufReader::new(std::fs::File::open(&files.key)?))
        .context("reading key.pem")?
        .context("key.pem holds no private key")?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
