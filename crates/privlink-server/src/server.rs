//! `privlink serve`: open the store, make sure the defaults and certificate exist, start the
//! reconciler and serve the API until shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::bootstrap::{self, Defaults};
use crate::config::ServeConfig;
use crate::providers::Registry;
use crate::reconciler::Reconciler;
use crate::state::AppState;
use crate::tls;

/// What a running server tells its caller (and writes to `endpoint.json` for tools).
#[derive(Debug, Clone)]
pub struct Started {
    pub url: String,
    pub addr: SocketAddr,
    pub ca_file: Option<PathBuf>,
    pub defaults: Defaults,
}

/// Hold the data directory for this process only: two servers on one SQLite file would
/// corrupt each other's view of the work queue.
fn lock_data_dir(config: &ServeConfig) -> anyhow::Result<std::fs::File> {
    let path = config.data_dir.join("privlink.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(_) => anyhow::bail!(
            "another privlink server is using the data directory {}; stop it or pass another --data-dir",
            config.data_dir.display()
        ),
    }
}

pub async fn serve(
    config: ServeConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
    on_started: impl FnOnce(&Started),
) -> anyhow::Result<()> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating data directory {}", config.data_dir.display()))?;
    let _lock = lock_data_dir(&config)?;
    let spec = config.store.clone();
    let store = tokio::task::spawn_blocking(move || privlink_store::open(&spec)).await?.context("opening the store")?;
    let insecure = config.insecure_http;
    let store2 = store.clone();
    let credentials_present = config.data_dir.join(bootstrap::CREDENTIALS_FILE).exists();
    let (defaults, new_secret) =
        tokio::task::spawn_blocking(move || bootstrap::ensure_defaults(&*store2, insecure, credentials_present))
            .await?
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    if let Some(secret) = new_secret {
        bootstrap::write_credentials(&config.data_dir, &defaults, &secret)?;
        tracing::info!(
            file = %config.data_dir.join(bootstrap::CREDENTIALS_FILE).display(),
            client_id = %defaults.admin_client_id,
            "wrote a new administrator secret to the credentials file"
        );
    }
    let data_dir = config.data_dir.clone();
    let key = tokio::task::spawn_blocking(move || crate::identity::keys::SigningKey::load_or_create(&data_dir))
        .await?
        .context("loading the token-signing key")?;
    let administrator = crate::identity::tokens::Subject {
        tenant_id: defaults.tenant_id.to_ascii_lowercase(),
        object_id: defaults.admin_object_id.clone(),
        client_id: defaults.admin_client_id.clone(),
        kind: crate::identity::PrincipalKind::ServicePrincipal,
        upn: None,
        display_name: Some("privlink administrator".into()),
        mi_resource_id: None,
        admin: true,
    };
    if config.auth == crate::identity::AuthMode::Permissive {
        tracing::warn!(
            "--auth=permissive: ANY bearer token acts as the administrator. Use it for quick experiments only."
        );
    }
    let identity = Arc::new(crate::identity::IdentityService::new(key, config.auth, administrator));

    let settings = Arc::new(config.settings.clone());
    let registry = Arc::new(Registry::new());
    let (store2, registry2) = (store.clone(), registry.clone());
    tokio::task::spawn_blocking(move || {
        privlink_store::write(&*store2, |tx| crate::platform::backfill(tx, &registry2))
    })
    .await?
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let planes = crate::dataplane::DataPlanes::start(
        store.clone(),
        config.dns.clone(),
        config.gateway.clone(),
        config.settings.limits.data_plane_descriptors,
    )
    .await
    .context("starting the data planes")?;
    let reconciler = Arc::new(Reconciler::new(store.clone(), registry.clone(), settings.clone()));
    let state = AppState {
        store,
        registry,
        settings,
        reconciler: reconciler.clone(),
        defaults: Arc::new(defaults.clone()),
        identity: identity.clone(),
        planes: planes.clone(),
        subscription_tenants: Default::default(),
    };

    let tls_config = if config.insecure_http {
        None
    } else {
        let files = tls::ensure(&config.data_dir)?;
        Some((tls::server_config(&files)?, files.ca))
    };
    let listener = TcpListener::bind(config.listen).await.with_context(|| format!("binding {}", config.listen))?;
    let addr = listener.local_addr()?;
    let scheme = if tls_config.is_some() { "https" } else { "http" };
    let host = if addr.ip().is_loopback() && addr.is_ipv4() { "127.0.0.1".to_string() } else { addr.ip().to_string() };
    let url = format!("{scheme}://{host}:{}", addr.port());
    identity.set_server_url(&url);
    let started = Started { url: url.clone(), addr, ca_file: tls_config.as_ref().map(|(_, ca)| ca.clone()), defaults };
    write_endpoint_file(&config, &started)?;
    on_started(&started);

    let (stop_tx, stop_rx) = watch::channel(false);
    let reconciler_task = tokio::spawn(reconciler.run(stop_rx));
    let app = crate::router::build(state);
    let acceptor = tls_config.map(|(c, _)| tokio_rustls::TlsAcceptor::from(c));
    let graceful = GracefulShutdown::new();
    let builder = Builder::new(TokioExecutor::new());
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, _peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let service = TowerToHyperService::new(app.clone());
                let builder = builder.clone();
                let watcher = graceful.watcher();
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    match acceptor {
                        Some(acceptor) => match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream)).await {
                            Ok(Ok(tls)) => {
                                let conn = builder.serve_connection_with_upgrades(TokioIo::new(tls), service).into_owned();
                                let _ = watcher.watch(conn).await;
                            }
                            Ok(Err(e)) => tracing::debug!(error = %e, "TLS handshake failed"),
                            Err(_) => tracing::debug!("TLS handshake timed out"),
                        },
                        None => {
                            let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service).into_owned();
                            let _ = watcher.watch(conn).await;
                        }
                    }
                });
            }
            _ = &mut shutdown => break,
        }
    }
    tracing::info!("shutting down: no new connections, finishing open requests");
    drop(listener);
    let _ = stop_tx.send(true);
    if tokio::time::timeout(Duration::from_secs(10), graceful.shutdown()).await.is_err() {
        tracing::warn!("open connections did not finish within 10s");
    }
    let _ = reconciler_task.await;
    planes.shutdown().await;
    let _ = std::fs::remove_file(config.data_dir.join("endpoint.json"));
    Ok(())
}

fn write_endpoint_file(config: &ServeConfig, started: &Started) -> anyhow::Result<()> {
    let doc = serde_json::json!({
        "url": started.url,
        // Absolute, so a client in another directory finds it.
        "caFile": started.ca_file.as_ref().map(|p| std::fs::canonicalize(p).unwrap_or_else(|_| p.clone())),
        "tenantId": started.defaults.tenant_id,
        "subscriptionId": started.defaults.subscription_id,
        "credentialsFile": std::fs::canonicalize(config.data_dir.join(bootstrap::CREDENTIALS_FILE)).ok(),
        "pid": std::process::id(),
    });
    let tmp = config.data_dir.join("endpoint.json.tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(&doc)?)?;
    std::fs::rename(&tmp, config.data_dir.join("endpoint.json"))?;
    Ok(())
}
