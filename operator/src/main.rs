//! `switchyard-operator`: the Kubernetes operator (see the library's documentation).
//! Uses the in-cluster service account (or KUBECONFIG) for the API server.

use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;

use switchyard::render::{RenderOptions, DEFAULT_CA_FILE};
use switchyard_operator::controller::{self, Settings};
use switchyard_operator::keys::KeyApi;
use switchyard_operator::sink::DirectorySink;

#[derive(Debug, Parser)]
#[command(
    name = "switchyard-operator",
    version,
    about = "Watches Switchyard's custom resources and feeds the gateway"
)]
struct Cli {
    /// Watch this namespace only (default: every namespace).
    #[arg(long)]
    namespace: Option<String>,
    /// A config.yaml the resources are added to: general_settings (master_key,
    /// database_url: the gateway asks the keyservice), litellm_settings, its own models.
    #[arg(long, short = 'c', value_name = "FILE")]
    config: Option<PathBuf>,
    /// The directory the rendered config goes to (Envoy reads DIR/current/envoy.yaml).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// The filter's .wasm, as Envoy's pod sees it.
    #[arg(
        long,
        value_name = "PATH",
        default_value = "/usr/local/lib/switchyard/switchyard_filter.wasm"
    )]
    wasm: PathBuf,
    /// Listener address of the rendered config.
    #[arg(long, default_value = "0.0.0.0")]
    host: String,
    /// Listener port of the rendered config.
    #[arg(long, default_value_t = 4000)]
    port: u16,
    /// Envoy's admin port in the rendered config.
    #[arg(long, default_value_t = 9901)]
    admin_port: u16,
    /// CA bundle for https provider endpoints.
    #[arg(long, default_value = DEFAULT_CA_FILE)]
    ca_file: String,
    /// The keyservice (HOST:PORT): Envoy asks it, and VirtualKeys are applied to it.
    #[arg(long, value_name = "HOST:PORT")]
    keyservice: Option<String>,
    /// The variable holding the keyservice's master key.
    #[arg(long, default_value = "LITELLM_MASTER_KEY")]
    master_key_env: String,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let keys = match &cli.keyservice {
        Some(address) => match std::env::var(&cli.master_key_env) {
            Ok(master) if !master.is_empty() => match KeyApi::parse(address, master) {
                Ok(api) => Some(api),
                Err(e) => return fail(&e),
            },
            _ => {
                return fail(&format!(
                    "--keyservice needs the master key in {}",
                    cli.master_key_env
                ))
            }
        },
        None => None,
    };
    let base = match cli
        .config
        .as_deref()
        .map(switchyard::crd::convert::read_base)
        .transpose()
    {
        Ok(base) => base,
        Err(e) => return fail(&e),
    };
    let sink = DirectorySink {
        dir: cli.out.clone(),
        options: RenderOptions {
            wasm: cli.wasm.clone(),
            host: cli.host.clone(),
            port: cli.port,
            admin_port: cli.admin_port,
            ca_file: cli.ca_file.clone(),
            keyservice: cli.keyservice.clone(),
            keyservice_ca: None,
        },
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => return fail(&format!("cannot start the runtime: {e}")),
    };
    let result = runtime.block_on(async {
        let client = kube::Client::try_default()
            .await
            .map_err(|e| format!("cannot reach the Kubernetes API: {e}"))?;
        controller::run(
            client,
            Settings {
                namespace: cli.namespace.clone(),
                sink: Box::new(sink),
                keys,
                base,
            },
        )
        .await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::FAILURE
}
