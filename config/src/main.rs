//! `switchyard`: compiles a LiteLLM-style `config.yaml` into Envoy configuration and
//! runs the gateway.
//!
//! - `switchyard check --config FILE`: load, validate and compile; print warnings and a
//!   summary. Exit 1 on an error.
//! - `switchyard render --config FILE --out DIR`: write the Envoy bootstrap and the
//!   filter's plugin configs.
//! - `switchyard up --config FILE`: render, start Envoy, wait until ready, run until
//!   Ctrl-C.

use switchyard::{litellm, plan, render, up};

use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "switchyard",
    version,
    about = "A LiteLLM-compatible LLM gateway inside Envoy: compiles config.yaml into Envoy configuration"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Load, validate and compile a config.yaml; print warnings and a summary.
    Check {
        /// The LiteLLM-style config file.
        #[arg(long, short = 'c', value_name = "FILE")]
        config: PathBuf,
        /// Also print the compiled plan (plugin configs, clusters, routes) as JSON.
        #[arg(long)]
        plan: bool,
    },
    /// Write the Envoy bootstrap (DIR/envoy.yaml) and the filter's plugin configs.
    Render {
        /// The LiteLLM-style config file.
        #[arg(long, short = 'c', value_name = "FILE")]
        config: PathBuf,
        /// Output directory.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        #[command(flatten)]
        listen: Listen,
    },
    /// Run the gateway: render, start Envoy, wait until ready; Ctrl-C stops it.
    Up {
        /// The LiteLLM-style config file.
        #[arg(long, short = 'c', value_name = "FILE")]
        config: PathBuf,
        #[command(flatten)]
        listen: Listen,
        /// Where the rendered files and Envoy's log go.
        #[arg(long, value_name = "DIR", default_value = ".switchyard")]
        workdir: PathBuf,
        /// Envoy's log level.
        #[arg(long, default_value = "warn")]
        log_level: String,
    },
}

/// Where the gateway listens and which filter it loads.
#[derive(Debug, clap::Args)]
struct Listen {
    /// Listener port (LiteLLM's default, 4000; 0 picks a free port).
    #[arg(long, default_value_t = 4000)]
    port: u16,
    /// Listener address (use 0.0.0.0 to serve other machines).
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Envoy admin port on 127.0.0.1 (0 picks a free port).
    #[arg(long, default_value_t = 0)]
    admin_port: u16,
    /// The filter's .wasm (default: SWITCHYARD_WASM, else the build output).
    #[arg(long, value_name = "PATH")]
    wasm: Option<PathBuf>,
    /// CA bundle that verifies https api_base certificates.
    #[arg(long, value_name = "FILE", default_value = render::DEFAULT_CA_FILE)]
    ca_file: String,
    /// A running switchyard-keyservice (HOST:PORT), for configs with virtual keys
    /// (`up` starts one itself).
    #[arg(long, value_name = "HOST:PORT")]
    keyservice: Option<String>,
}

impl Listen {
    fn options(&self) -> Result<render::RenderOptions, String> {
        let wasm = match &self.wasm {
            Some(p) => p.clone(),
            None => up::find_wasm()?,
        };
        Ok(render::RenderOptions {
            wasm,
            host: self.host.clone(),
            port: self.port,
            admin_port: self.admin_port,
            ca_file: self.ca_file.clone(),
            keyservice: self.keyservice.clone(),
        })
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check { config, plan } => check(&config, plan),
        Command::Render {
            config,
            out,
            listen,
        } => report(render_command(&config, &out, &listen).map(|_| ())),
        Command::Up {
            config,
            listen,
            workdir,
            log_level,
        } => report(up_command(&config, &listen, &workdir, &log_level)),
    }
}

fn report(result: Result<(), String>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Renders `config` into `out`; returns the plan and the bootstrap path.
fn render_command(
    config: &Path,
    out: &Path,
    listen: &Listen,
) -> Result<(plan::Plan, PathBuf), String> {
    let (_, plan) = load_and_compile(config).ok_or("the config has errors (above)")?;
    let bootstrap = render_plan(&plan, out, &listen.options()?)?;
    Ok((plan, bootstrap))
}

fn render_plan(
    plan: &plan::Plan,
    out: &Path,
    opts: &render::RenderOptions,
) -> Result<PathBuf, String> {
    let rendered = render::render(plan, opts)?;
    let bootstrap = render::write(&rendered, out)?;
    eprintln!(
        "wrote {} and {} plugin config(s)",
        bootstrap.display(),
        rendered.plugin_configs.len()
    );
    eprintln!("{}", envoy_environment_line(plan));
    let missing = missing_env(plan);
    if !missing.is_empty() {
        eprintln!(
            "note: not set in this shell: {} (Envoy will refuse to start without them)",
            missing.join(", ")
        );
    }
    Ok(bootstrap)
}

/// The line `render` prints about Envoy's environment: every variable the filter reads
/// at start-up (the config's `os.environ/NAME` values and the providers' default key
/// variables). Envoy needs exactly these set and nothing else from Switchyard.
fn envoy_environment_line(plan: &plan::Plan) -> String {
    if plan.host_env_keys.is_empty() {
        "Envoy's environment: nothing (the rendered files are self-sufficient)".to_string()
    } else {
        let names: Vec<&str> = plan.host_env_keys.iter().map(String::as_str).collect();
        format!(
            "Envoy's environment: {} (the filter reads these at start-up; nothing else is needed)",
            names.join(" ")
        )
    }
}

/// The filter's environment variables that neither the process nor the config's
/// `environment_variables` provides.
fn missing_env(plan: &plan::Plan) -> Vec<String> {
    plan.host_env_keys
        .iter()
        .filter(|k| {
            process_env(k).is_none_or(|v| v.is_empty()) && !plan.env_defaults.contains_key(*k)
        })
        .cloned()
        .collect()
}

fn up_command(
    config: &Path,
    listen: &Listen,
    workdir: &Path,
    log_level: &str,
) -> Result<(), String> {
    let envoy = up::find_envoy()?;
    let (_, plan) = load_and_compile(config).ok_or("the config has errors (above)")?;
    let missing = missing_env(&plan);
    if !missing.is_empty() {
        return Err(format!(
            "{}: these environment variables are not set (referenced as os.environ/… or provider default keys): {}",
            config.display(),
            missing.join(", ")
        ));
    }
    // `environment_variables` from the config reach Envoy as process environment,
    // never through a rendered file.
    for (k, v) in &plan.env_defaults {
        if process_env(k).is_none() {
            std::env::set_var(k, v);
        }
    }
    up::install_stop_handler()?;
    std::fs::create_dir_all(workdir)
        .map_err(|e| format!("cannot create {}: {e}", workdir.display()))?;
    let mut opts = listen.options()?;
    let mut keyservice = match &plan.keys {
        Some(keys) => Some(up::start_keyservice(keys, workdir)?),
        None => None,
    };
    if let Some(ks) = &keyservice {
        opts.keyservice = Some(ks.addr.clone());
    }
    let started = render_plan(&plan, &workdir.join("envoy"), &opts)
        .and_then(|bootstrap| up::start(&envoy, &bootstrap, workdir, log_level));
    let result = started.and_then(|running| up::run_until_interrupted(running, &listen.host));
    if let Some(ks) = keyservice.as_mut() {
        up::stop(&mut ks.child);
    }
    result
}

/// The process environment, as the config's `os.environ/` lookups see it.
fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Loads and compiles `path`, printing warnings to stderr. `None` after printing the
/// error.
fn load_and_compile(path: &Path) -> Option<(litellm::Config, plan::Plan)> {
    let (config, warnings) = match litellm::load(path, &process_env) {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("error: {e}");
            return None;
        }
    };
    for warning in &warnings {
        eprintln!("warning: {warning}");
    }
    match plan::compile(&config, &process_env) {
        Ok(plan) => {
            for warning in &plan.warnings {
                eprintln!("warning: {warning}");
            }
            Some((config, plan))
        }
        Err(e) => {
            eprintln!("error: {e}");
            None
        }
    }
}

fn check(path: &Path, print_plan: bool) -> ExitCode {
    let Some((config, plan)) = load_and_compile(path) else {
        return ExitCode::FAILURE;
    };
    let groups = &plan.router.groups;
    let mocks = groups.iter().filter(|g| g.mock_response.is_some()).count();
    let names: Vec<String> = groups
        .iter()
        .map(|g| {
            if g.mock_response.is_some() {
                format!("{} (mock)", g.name)
            } else {
                g.name.clone()
            }
        })
        .collect();
    println!("{}: ok", config.file_name);
    println!(
        "  {} model group{} ({} mock): {}",
        groups.len(),
        plural(groups.len()),
        mocks,
        if names.is_empty() {
            "-".to_string()
        } else {
            names.join(", ")
        }
    );
    println!(
        "  {} deployment{} in {} route cluster{}, {} alias{}",
        plan.deployments.len(),
        plural(plan.deployments.len()),
        plan.routes.len(),
        plural(plan.routes.len()),
        plan.router.aliases.len(),
        if plan.router.aliases.len() == 1 {
            ""
        } else {
            "es"
        }
    );
    if plan.host_env_keys.is_empty() {
        println!("  the gateway reads no environment variables");
    } else {
        let keys: Vec<String> = plan
            .host_env_keys
            .iter()
            .map(|k| {
                if process_env(k).is_some() {
                    k.clone()
                } else if plan.env_defaults.contains_key(k) {
                    format!("{k} (from environment_variables)")
                } else {
                    format!("{k} (not set here)")
                }
            })
            .collect();
        println!(
            "  environment variables the gateway will read: {}",
            keys.join(", ")
        );
    }
    if print_plan {
        match serde_json::to_string_pretty(&plan) {
            Ok(json) => println!("{json}"),
            Err(e) => {
                eprintln!("error: cannot print the plan: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
