//! The `privlink` command.

use std::net::SocketAddr;
use std::path::PathBuf;

mod cli;

use anyhow::Context;
use clap::{Parser, Subcommand};
use privlink_server::config::{FileConfig, DEFAULT_PORT};
use privlink_server::{ServeConfig, Settings, Timing};

#[derive(Parser)]
#[command(
    name = "privlink",
    version,
    about = "Azure Private Link, locally: an ARM-compatible server for private endpoints, DNS and the data plane"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the management API (HTTPS on 127.0.0.1:8443 by default).
    Serve(ServeArgs),
    /// Private endpoints and their connection state.
    Endpoints {
        #[command(flatten)]
        common: cli::private_link::Common,
        #[command(subcommand)]
        command: cli::private_link::EndpointsCommand,
    },
    /// Private endpoint connections on every target: list the pending ones, approve, reject.
    Connections {
        #[command(flatten)]
        common: cli::private_link::Common,
        #[command(subcommand)]
        command: cli::private_link::ConnectionsCommand,
    },
    /// Print the environment for Azure SDK clients (the administrator's credentials, the URL,
    /// the CA): `eval "$(privlink env)"`.
    Env(cli::env::EnvArgs),
    /// Set up the Azure CLI for this server in its own AZURE_CONFIG_DIR and log in as the
    /// administrator: `eval "$(privlink az-login)"`.
    AzLogin(cli::azcli::AzLoginArgs),
    /// Managed identities: the environment for acting as one.
    Identity {
        #[command(flatten)]
        connect: cli::client::Connect,
        #[command(subcommand)]
        command: cli::env::IdentityCommand,
    },
    /// Print an access token for the management API (the administrator's, or the identity in
    /// AZURE_TENANT_ID / AZURE_CLIENT_ID / AZURE_CLIENT_SECRET): `curl -H "Authorization: Bearer
    /// $(privlink token)" ...`.
    Token {
        #[command(flatten)]
        connect: cli::client::Connect,
    },
    /// DNS as each virtual network sees it: `dns query <name> --vnet <vnet>` answers and explains,
    /// `dns resolvers` lists where each VNet's resolver (Azure's 168.63.129.16) listens.
    Dns {
        #[command(flatten)]
        common: cli::dns::DnsCommon,
        #[command(subcommand)]
        command: cli::dns::DnsCommand,
    },
    /// Why a name does or does not reach a service from a VNet: the DNS answer, the private
    /// endpoint or public endpoint behind it, its connection state and the path.
    Diagnose(cli::dns::DiagnoseArgs),
    /// Bind a private-link target's sub-resource to the local service its traffic goes to:
    /// `privlink backend set <resource id> --group blob 127.0.0.1:10000`.
    Backend {
        #[command(flatten)]
        connect: cli::client::Connect,
        #[command(subcommand)]
        command: cli::backend::BackendCommand,
    },
    /// The data plane: `gateway proxies` (sit in a VNet through its proxy), `gateway listeners`,
    /// `gateway stats` (connections, bytes and refusals per endpoint).
    Gateway {
        #[command(flatten)]
        common: cli::dns::DnsCommon,
        #[command(subcommand)]
        command: cli::gateway::GatewayCommand,
    },
    /// Administration: tenants, subscriptions, service principals, users (administrator only).
    Admin {
        #[command(flatten)]
        common: cli::admin::AdminCommon,
        #[command(subcommand)]
        command: cli::admin::AdminCommand,
    },
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Where privlink keeps its store, certificate and settings.
    #[arg(long, env = "PRIVLINK_DATA_DIR", default_value = ".privlink")]
    data_dir: PathBuf,
    /// The store: a SQLite file path (default: <data-dir>/privlink.db) or a postgres:// URL
    /// (an optional `schema=NAME` query parameter selects a schema).
    #[arg(long, env = "PRIVLINK_STORE")]
    store: Option<String>,
    /// Address to listen on.
    #[arg(long, env = "PRIVLINK_LISTEN")]
    listen: Option<SocketAddr>,
    /// A TOML config file (default: <data-dir>/privlink.toml when it exists).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Serve plain HTTP instead of HTTPS. The Azure CLI and SDKs refuse to send tokens over it.
    #[arg(long)]
    insecure_http: bool,
    /// How long-running operations complete: immediate, delay=<duration> (e.g. delay=90s) or manual.
    #[arg(long, env = "PRIVLINK_PROVISIONING")]
    provisioning: Option<String>,
    /// How requests are authenticated: strict (tokens from privlink's token endpoint) or
    /// permissive (any bearer token acts as the administrator; for quick experiments only).
    #[arg(long, env = "PRIVLINK_AUTH")]
    auth: Option<String>,
    /// The first virtual network's DNS resolver address (default 127.77.0.1:1053); the others
    /// follow it (see --dns-per-vnet). Port 0 gives each VNet a free port.
    #[arg(long, env = "PRIVLINK_DNS_LISTEN")]
    dns_listen: Option<SocketAddr>,
    /// How each further VNet's resolver address is chosen: address (the next loopback address,
    /// same port) or port (the same address, the next port).
    #[arg(long, env = "PRIVLINK_DNS_PER_VNET")]
    dns_per_vnet: Option<String>,
    /// Forward names privlink does not answer for to this resolver (e.g. 127.0.0.53:53);
    /// without one they are refused.
    #[arg(long, env = "PRIVLINK_DNS_UPSTREAM")]
    dns_upstream: Option<SocketAddr>,
    /// Do not serve DNS (the explanation API still answers).
    #[arg(long)]
    no_dns: bool,
    /// Each virtual network's proxy (HTTP CONNECT and SOCKS5) port, on the VNet's address (the
    /// resolver's); 0 gives each a free port. Default 3128.
    #[arg(long, env = "PRIVLINK_PROXY_PORT")]
    proxy_port: Option<u16>,
    /// The proxy that stands for the internet (default 127.77.255.254:3128).
    #[arg(long, env = "PRIVLINK_INTERNET_PROXY")]
    internet_proxy: Option<SocketAddr>,
    /// Serve no data plane (proxies and listeners).
    #[arg(long)]
    no_gateway: bool,
}

fn resolve(args: ServeArgs) -> anyhow::Result<ServeConfig> {
    let config_path = args.config.clone().or_else(|| Some(args.data_dir.join("privlink.toml")).filter(|p| p.exists()));
    let file = match &config_path {
        Some(path) => FileConfig::load(path)?,
        None => FileConfig::default(),
    };
    let timing: Timing = match args.provisioning.or(file.provisioning) {
        Some(text) => text.parse().map_err(|e: String| anyhow::anyhow!(e))?,
        None => Timing::Immediate,
    };
    let auth = match args.auth.or(file.auth) {
        Some(text) => text.parse().map_err(|e: String| anyhow::anyhow!(e))?,
        None => privlink_server::identity::AuthMode::Strict,
    };
    let store =
        args.store.or(file.store).unwrap_or_else(|| args.data_dir.join("privlink.db").to_string_lossy().into_owned());
    let dns_file = file.dns.unwrap_or_default();
    let defaults = privlink_server::dataplane::dns::DnsSettings::default();
    let dns = privlink_server::dataplane::dns::DnsSettings {
        enabled: !args.no_dns && dns_file.enabled.unwrap_or(true),
        listen: args.dns_listen.or(dns_file.listen).unwrap_or(defaults.listen),
        per_vnet: match args.dns_per_vnet {
            Some(text) => text.parse().map_err(|e: String| anyhow::anyhow!(e))?,
            None => dns_file.per_vnet.unwrap_or(defaults.per_vnet),
        },
        upstream: args.dns_upstream.or(dns_file.upstream),
    };
    if !dns.listen.ip().is_loopback() {
        anyhow::bail!("the DNS listen address {} is not a loopback address", dns.listen);
    }
    let gateway_file = file.gateway.unwrap_or_default();
    let gateway_defaults = privlink_server::dataplane::gateway::GatewaySettings::default();
    let gateway = privlink_server::dataplane::gateway::GatewaySettings {
        enabled: !args.no_gateway && gateway_file.enabled.unwrap_or(true),
        proxy_port: args.proxy_port.or(gateway_file.proxy_port).unwrap_or(gateway_defaults.proxy_port),
        internet_proxy: args.internet_proxy.or(gateway_file.internet_proxy).unwrap_or(gateway_defaults.internet_proxy),
        endpoint_base: gateway_file.endpoint_listen.unwrap_or(gateway_defaults.endpoint_base),
        public_base: gateway_file.public_listen.unwrap_or(gateway_defaults.public_base),
        peering_flag_blocks_endpoints: gateway_file
            .peering_flag_blocks_endpoints
            .unwrap_or(gateway_defaults.peering_flag_blocks_endpoints),
    };
    for (what, ip) in [
        ("internet proxy", gateway.internet_proxy.ip()),
        ("endpoint-listen", std::net::IpAddr::V4(gateway.endpoint_base)),
        ("public-listen", std::net::IpAddr::V4(gateway.public_base)),
    ] {
        if !ip.is_loopback() {
            anyhow::bail!("the gateway's {what} address {ip} is not a loopback address");
        }
    }
    Ok(ServeConfig {
        listen: args.listen.or(file.listen).unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], DEFAULT_PORT))),
        store,
        insecure_http: args.insecure_http || file.insecure_http.unwrap_or(false),
        auth,
        settings: Settings {
            timing,
            limits: file.limits.unwrap_or_default(),
            legacy_network_policies: file.legacy_private_endpoint_network_policies.unwrap_or(false),
        },
        dns,
        gateway,
        data_dir: args.data_dir,
    })
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = ctrl_c.await;
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

/// A store spec fit to print: a database URL loses its password and query parameters.
fn redact(spec: &str) -> String {
    let Some((scheme, rest)) = spec.split_once("://") else { return spec.to_string() };
    let rest = rest.split_once('?').map_or(rest, |(before, _)| before);
    let (authority, path) = rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p));
    let authority = match authority.rsplit_once('@') {
        Some((user_info, host)) => {
            let user = user_info.split_once(':').map_or(user_info, |(user, _)| user);
            format!("{user}:***@{host}")
        }
        None => authority.to_string(),
    };
    let suffix = if spec.contains('?') { "?…" } else { "" };
    format!("{scheme}://{authority}/{path}{suffix}")
}

fn print_banner(started: &privlink_server::Started, config: &ServeConfig) {
    let redacted_store = redact(&config.store);
    println!("privlink {} listening on {}", env!("CARGO_PKG_VERSION"), started.url);
    println!("  store:        {redacted_store}");
    println!("  provisioning: {}", config.settings.timing);
    if config.dns.enabled {
        let scheme = match config.dns.per_vnet {
            privlink_server::dataplane::dns::PerVnet::Address => "the next address for each further VNet",
            privlink_server::dataplane::dns::PerVnet::Port => "the next port for each further VNet",
        };
        println!(
            "  dns:          one resolver per VNet from {} ({scheme}; `privlink dns resolvers`)",
            config.dns.listen
        );
    } else {
        println!("  dns:          off (--no-dns)");
    }
    if config.gateway.enabled {
        println!(
            "  gateway:      a proxy per VNet on port {} of its address, the internet's at {} (`privlink gateway proxies`)",
            config.gateway.proxy_port, config.gateway.internet_proxy
        );
    } else {
        println!("  gateway:      off (--no-gateway)");
    }
    println!("  tenant:       {}", started.defaults.tenant_id);
    println!("  subscription: {}", started.defaults.subscription_id);
    if let Some(ca) = &started.ca_file {
        let ca = std::fs::canonicalize(ca).unwrap_or_else(|_| ca.clone());
        println!("  CA file:      {}", ca.display());
        println!();
        println!("Point a client at it:");
        println!("  export REQUESTS_CA_BUNDLE={}   # Python SDKs and az", ca.display());
        println!("  export NODE_EXTRA_CA_CERTS={}  # JavaScript SDKs", ca.display());
        println!(
            "  python: NetworkManagementClient(credential, \"{}\", base_url=\"{}\")",
            started.defaults.subscription_id, started.url
        );
    } else {
        println!("  WARNING: plain HTTP; the Azure CLI and SDKs will not send tokens to it");
    }
    println!(
        "  curl --cacert <CA file> -H \"Authorization: Bearer $(privlink token)\" \"{}/subscriptions?api-version=2022-12-01\"",
        started.url
    );
    let credentials = config.data_dir.join(privlink_server::bootstrap::CREDENTIALS_FILE);
    let credentials = std::fs::canonicalize(&credentials).unwrap_or(credentials);
    // The quick-start commands find this server through its data directory.
    let data_dir_flag = if config.data_dir == std::path::Path::new(".privlink") {
        String::new()
    } else {
        let dir = std::fs::canonicalize(&config.data_dir).unwrap_or_else(|_| config.data_dir.clone());
        format!(" --data-dir '{}'", dir.display().to_string().replace('\'', r"'\''"))
    };
    println!();
    println!(
        "Administrator credentials (service principal {}, Owner of the default subscription):",
        started.defaults.admin_client_id
    );
    println!("  {}", credentials.display());
    println!("Quick start:");
    println!(
        "  eval \"$(privlink env{data_dir_flag})\"       # AZURE_* variables for the SDKs (ClientSecretCredential)"
    );
    println!("  eval \"$(privlink az-login{data_dir_flag})\"  # the Azure CLI, logged in, in its own AZURE_CONFIG_DIR");
    println!("Press Ctrl-C to stop.");
}

fn main() -> std::process::ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("PRIVLINK_LOG").unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => {
            let config = resolve(args)?;
            let banner_config = config.clone();
            privlink_server::serve(config, shutdown_signal(), |started| print_banner(started, &banner_config))
                .await
                .context("privlink serve")?;
            println!("privlink stopped");
            Ok(())
        }
        Command::Endpoints { common, command } => cli::private_link::endpoints(common, command).await,
        Command::Connections { common, command } => cli::private_link::connections(common, command).await,
        Command::Env(args) => cli::env::env(args),
        Command::Token { connect } => {
            let client = cli::client::Client::connect(&connect)?;
            println!("{}", client.token().await?);
            Ok(())
        }
        Command::AzLogin(args) => cli::azcli::az_login(args).await,
        Command::Identity { connect, command } => cli::env::identity(connect, command).await,
        Command::Admin { common, command } => cli::admin::admin(common, command).await,
        Command::Dns { common, command } => cli::dns::dns(common, command).await,
        Command::Backend { connect, command } => cli::backend::backend(connect, command).await,
        Command::Gateway { common, command } => cli::gateway::gateway(common, command).await,
        Command::Diagnose(args) => cli::dns::diagnose(args).await,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn store_urls_are_redacted() {
        assert_eq!(super::redact("/tmp/x.db"), "/tmp/x.db");
        assert_eq!(super::redact("postgres://u:p@ss@h:5432/db?password=z"), "postgres://u:***@h:5432/db?…");
        assert_eq!(super::redact("postgres://h/db"), "postgres://h/db");
    }
}
