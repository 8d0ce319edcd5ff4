//! `switchyard`: compiles a LiteLLM-style `config.yaml` into Envoy configuration and
//! runs the gateway.
//!
//! - `switchyard check --config FILE`: load, validate and compile; print warnings and a
//!   summary. Exit 1 on an error.
//! - `switchyard render --config FILE --out DIR`: write the Envoy bootstrap and the
//!   filter's plugin configs; with `--target istio`, Kubernetes and Istio objects.
//! - `switchyard up --config FILE`: render, start Envoy, wait until ready, run until
//!   Ctrl-C. It takes LiteLLM's proxy flags too (`--num_workers`, `--debug`,
//!   `--model` without a config, `--test`, …: see `litellm_cli`), and
//!   `switchyard --config FILE …` without a command is `up`, as LiteLLM users type
//!   `litellm --config FILE`. As LiteLLM's, `up` listens on `HOST`/`PORT` when
//!   `--host`/`--port` are not given.

use switchyard::litellm_cli::{self, ModelFlags};
use switchyard::{crd, litellm, plan, render, up};

use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "switchyard",
    version,
    about = "A LiteLLM-compatible LLM gateway inside Envoy: compiles config.yaml into Envoy configuration",
    after_help = "LiteLLM's way works too: `switchyard --config config.yaml [--port 4000] [--num_workers N] [--debug]` is `switchyard up …`, and `switchyard --model ollama/llama3` serves one model without a config. Switchyard sends no telemetry."
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
        /// The LiteLLM-style config file (with --from-crd: the base the resources
        /// are added to).
        #[arg(
            long,
            short = 'c',
            value_name = "FILE",
            required_unless_present = "from_crd"
        )]
        config: Option<PathBuf>,
        /// Switchyard's Kubernetes resources (ModelGroup, RouterSettings; YAML files or
        /// directories of them, multi-document; other kinds are skipped): offline
        /// GitOps; with --config, added to that config.yaml (its general_settings,
        /// its own models first). See docs/deploy-kubernetes.md.
        #[arg(long = "from-crd", value_name = "FILE_OR_DIR", num_args = 1..)]
        from_crd: Vec<PathBuf>,
        /// Output directory.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// What to write: `envoy` (an Envoy bootstrap and the plugin configs) or
        /// `istio` (DIR/istio.yaml: Kubernetes and Istio objects, docs/deploy-istio.md).
        #[arg(long, value_enum, default_value_t = Target::Envoy)]
        target: Target,
        #[command(flatten)]
        listen: Listen,
        #[command(flatten)]
        istio: IstioFlags,
    },
    /// Write the Kubernetes CustomResourceDefinitions (ModelGroup, RouterSettings,
    /// VirtualKey), generated from the config model's types, into DIR.
    Crds {
        /// Output directory (deploy/kubernetes/crds in the repository).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Run the gateway: render, start Envoy, wait until ready; Ctrl-C stops it.
    ///
    /// `switchyard --config FILE …` (no command) is the same, as `litellm --config
    /// FILE` is. LiteLLM's proxy flags are taken too (below). Switchyard sends no
    /// telemetry.
    Up {
        /// The LiteLLM-style config file (optional with --model).
        #[arg(long, short = 'c', value_name = "FILE")]
        config: Option<PathBuf>,
        #[command(flatten)]
        listen: Listen,
        /// Where the rendered files and Envoy's log go.
        #[arg(long, value_name = "DIR", default_value = ".switchyard")]
        workdir: PathBuf,
        /// Envoy's log level.
        #[arg(long, default_value = "warn")]
        log_level: String,
        #[command(flatten)]
        litellm: LitellmFlags,
    },
}

/// LiteLLM's proxy flags (`litellm --model … --num_workers …`), in LiteLLM's spelling
/// and with hyphens.
#[derive(Debug, clap::Args)]
#[command(next_help_heading = "LiteLLM's command line")]
struct LitellmFlags {
    /// Envoy worker threads (Envoy's --concurrency; default: one per CPU core).
    #[arg(long = "num-workers", visible_alias = "num_workers", value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..))]
    num_workers: Option<u32>,
    /// Debug mode: print each provider request as LiteLLM does ("POST Request Sent
    /// from LiteLLM:" and a curl command, credentials masked) and the provider's
    /// status. Also on with litellm_settings.set_verbose: true or LITELLM_LOG=DEBUG.
    #[arg(long)]
    debug: bool,
    /// The same debug mode (LiteLLM's --detailed_debug).
    #[arg(long = "detailed-debug", visible_alias = "detailed_debug")]
    detailed_debug: bool,
    /// Serve this model for every request (`ollama/llama3`), without a config or
    /// with one (see the README).
    #[arg(long, short = 'm', value_name = "MODEL")]
    model: Option<String>,
    /// Another name for --model, listed in /models.
    #[arg(long, value_name = "NAME")]
    alias: Option<String>,
    /// The provider's URL (every deployment's api_base).
    #[arg(long = "api-base", visible_alias = "api_base", value_name = "URL")]
    api_base: Option<String>,
    /// Azure's API version, for Azure deployments without one.
    #[arg(
        long = "api-version",
        visible_alias = "api_version",
        value_name = "VERSION"
    )]
    api_version: Option<String>,
    /// Default temperature of every deployment.
    #[arg(long, value_name = "T")]
    temperature: Option<f64>,
    /// Default max_tokens of every deployment.
    #[arg(long = "max-tokens", visible_alias = "max_tokens", value_name = "N")]
    max_tokens: Option<u64>,
    /// Seconds per call (router_settings.timeout).
    #[arg(
        long = "request-timeout",
        visible_alias = "request_timeout",
        value_name = "SECONDS"
    )]
    request_timeout: Option<f64>,
    /// Drop request parameters a provider does not take (litellm_settings.drop_params).
    #[arg(long = "drop-params", visible_alias = "drop_params")]
    drop_params: bool,
    /// Send a test chat request to the running gateway at --host/--port, print the
    /// answer and exit (no gateway is started).
    #[arg(long)]
    test: bool,
    /// Accepted for LiteLLM's command lines; Switchyard sends no telemetry at all.
    #[arg(long, value_name = "BOOL", value_parser = litellm_cli::parse_bool)]
    telemetry: Option<bool>,
}

impl LitellmFlags {
    fn model_flags(&self) -> ModelFlags {
        ModelFlags {
            model: self.model.clone(),
            alias: self.alias.clone(),
            api_base: self.api_base.clone(),
            api_version: self.api_version.clone(),
            temperature: self.temperature,
            max_tokens: self.max_tokens,
            request_timeout: self.request_timeout,
            drop_params: self.drop_params,
        }
    }
}

/// What `render` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Target {
    /// An Envoy bootstrap (envoy.yaml) and the filter's plugin configs.
    Envoy,
    /// Kubernetes and Istio objects (istio.yaml).
    Istio,
}

/// `render --target istio`'s images, Secret and namespace (defaults in
/// `render::istio`).
#[derive(Debug, clap::Args)]
#[command(next_help_heading = "--target istio")]
struct IstioFlags {
    /// The OCI image holding the filter's .wasm, pulled by istio-agent (default:
    /// ghcr.io/switchyard-gateway/switchyard-wasm:latest).
    #[arg(long, value_name = "IMAGE")]
    wasm_image: Option<String>,
    /// The image that runs switchyard-keyservice (default:
    /// ghcr.io/switchyard-gateway/switchyard:latest).
    #[arg(long, value_name = "IMAGE")]
    image: Option<String>,
    /// The Secret every secret variable is read from (default: switchyard-secrets).
    #[arg(long, value_name = "NAME")]
    secret_name: Option<String>,
    /// The namespace of every object (default: switchyard).
    #[arg(long, value_name = "NAMESPACE")]
    namespace: Option<String>,
}

impl IstioFlags {
    /// The flags given, by name (they only apply to `--target istio`).
    fn given(&self) -> Vec<&'static str> {
        [
            ("--wasm-image", self.wasm_image.is_some()),
            ("--image", self.image.is_some()),
            ("--secret-name", self.secret_name.is_some()),
            ("--namespace", self.namespace.is_some()),
        ]
        .into_iter()
        .filter_map(|(flag, given)| given.then_some(flag))
        .collect()
    }

    fn options(&self, listen: &Listen) -> render::istio::IstioOptions {
        let defaults = render::istio::IstioOptions::default();
        render::istio::IstioOptions {
            namespace: self.namespace.clone().unwrap_or(defaults.namespace),
            wasm_image: self.wasm_image.clone().unwrap_or(defaults.wasm_image),
            image: self.image.clone().unwrap_or(defaults.image),
            secret_name: self.secret_name.clone().unwrap_or(defaults.secret_name),
            port: listen.port,
            ca_file: listen.ca_file.clone(),
        }
    }
}

/// Where the gateway listens and which filter it loads.
#[derive(Debug, clap::Args)]
struct Listen {
    /// Listener port (LiteLLM's default, 4000; 0 picks a free port). `up` reads PORT
    /// when this is not given, as LiteLLM does.
    #[arg(long, default_value_t = 4000)]
    port: u16,
    /// Listener address: 0.0.0.0 serves other machines (LiteLLM's default; Switchyard
    /// stays on this machine unless told). `up` reads HOST when this is not given, as
    /// LiteLLM does (the container image sets HOST=0.0.0.0).
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Envoy admin port on 127.0.0.1 (0 picks a free port: `up` picks it when it
    /// renders, so that `GET /metrics` can append Envoy's stats; `render` leaves it
    /// to Envoy, and `/metrics` then serves the gateway's metrics alone). Given twice,
    /// the last wins.
    #[arg(long, default_value_t = 0, overrides_with = "admin_port")]
    admin_port: u16,
    /// The filter's .wasm (default: SWITCHYARD_WASM, else the build output).
    #[arg(long, value_name = "PATH")]
    wasm: Option<PathBuf>,
    /// CA bundle that verifies https api_base certificates.
    #[arg(long, value_name = "FILE", default_value = render::DEFAULT_CA_FILE)]
    ca_file: String,
    /// A running switchyard-keyservice (HOST:PORT, or https://HOST:PORT for one that
    /// serves TLS), for configs with virtual keys (`up` starts one itself).
    #[arg(long, value_name = "[https://]HOST:PORT")]
    keyservice: Option<String>,
    /// CA bundle that verifies an https:// keyservice's certificate (default: --ca-file).
    #[arg(long, value_name = "FILE")]
    keyservice_ca: Option<String>,
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
            keyservice_ca: self.keyservice_ca.clone(),
        })
    }
}

fn main() -> ExitCode {
    let matches = Cli::command().get_matches_from(litellm_cli::with_default_command(
        std::env::args_os().collect(),
    ));
    let mut cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    // `up` (and `--test`) read HOST and PORT where --host/--port are not given, as
    // LiteLLM's proxy does; `render` writes only what its command line says.
    if let (Command::Up { listen, .. }, Some(up)) =
        (&mut cli.command, matches.subcommand_matches("up"))
    {
        let given = |id: &str| up.value_source(id) == Some(ValueSource::CommandLine);
        match litellm_cli::listen_from_env(given("host"), given("port"), &process_env) {
            Ok((host, port)) => {
                if let Some(host) = host {
                    listen.host = host;
                }
                if let Some(port) = port {
                    listen.port = port;
                }
            }
            Err(e) => return report(Err(e)),
        }
    }
    match cli.command {
        Command::Check { config, plan } => check(&config, plan),
        Command::Render {
            config,
            from_crd,
            out,
            target: Target::Istio,
            listen,
            istio,
        } => report(match config {
            Some(config) if from_crd.is_empty() => {
                render_istio_command(&config, &out, &listen, &istio)
            }
            _ => Err("--from-crd is for --target envoy; for --target istio, put the models in a config.yaml".to_string()),
        }),
        Command::Render {
            config,
            from_crd,
            out,
            target: Target::Envoy,
            listen,
            istio,
        } => report(match (istio.given().first(), config) {
            (Some(flag), _) => Err(format!("{flag} is for --target istio")),
            (None, Some(config)) if from_crd.is_empty() => {
                render_command(&config, &out, &listen).map(|_| ())
            }
            (None, base) => render_from_crd(&from_crd, base.as_deref(), &out, &listen),
        }),
        Command::Crds { out } => report(crd::write_crds(&out).map(|written| {
            for path in written {
                eprintln!("wrote {}", path.display());
            }
        })),
        Command::Up {
            config,
            listen,
            litellm,
            ..
        } if litellm.test => report(test_command(config.as_deref(), &listen, &litellm)),
        Command::Up {
            config,
            listen,
            workdir,
            log_level,
            litellm,
        } => report(up_command(
            config.as_deref(),
            &listen,
            &litellm,
            &workdir,
            &log_level,
        )),
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

/// `render --target istio`: writes `out/istio.yaml` and says which keys the Secret
/// must hold.
fn render_istio_command(
    config: &Path,
    out: &Path,
    listen: &Listen,
    flags: &IstioFlags,
) -> Result<(), String> {
    for (flag, given) in [
        ("--wasm", listen.wasm.is_some()),
        ("--keyservice", listen.keyservice.is_some()),
        ("--keyservice-ca", listen.keyservice_ca.is_some()),
        ("--admin-port", listen.admin_port != 0),
    ] {
        if given {
            return Err(format!(
                "{flag} is for --target envoy: with --target istio the filter comes from --wasm-image, the keyservice and Envoy's admin port are the mesh's (docs/deploy-istio.md)"
            ));
        }
    }
    let (_, plan) = load_and_compile(config).ok_or("the config has errors (above)")?;
    let opts = flags.options(listen);
    let rendered = render::istio::render(&plan, &opts)?;
    let path = render::istio::write(&rendered, out)?;
    eprintln!(
        "wrote {} ({} objects)",
        path.display(),
        rendered.objects.len()
    );
    if rendered.secret_keys.is_empty() {
        eprintln!("no Secret is needed (the config reads no environment variables)");
    } else {
        let literals: Vec<String> = rendered
            .secret_keys
            .iter()
            .map(|k| format!("--from-literal={k}=…"))
            .collect();
        eprintln!(
            "the Secret {} must hold: {} (e.g. kubectl create secret generic {} -n {} {})",
            opts.secret_name,
            rendered.secret_keys.join(" "),
            opts.secret_name,
            opts.namespace,
            literals.join(" ")
        );
    }
    Ok(())
}

/// `render --from-crd` (with `--config`: added to that base): the resources under `paths`, compiled as a config.yaml would
/// be, rendered into `out`; prints which Secret each variable of Envoy's comes from.
fn render_from_crd(
    paths: &[PathBuf],
    base: Option<&Path>,
    out: &Path,
    listen: &Listen,
) -> Result<(), String> {
    let (resources, loaded) = crd::convert::load(paths, base, &process_env)?;
    for warning in &loaded.warnings {
        eprintln!("warning: {warning}");
    }
    let plan = plan::compile(&loaded.config, &process_env)
        .map_err(|e| loaded.origins.error(&e).to_string())?;
    for warning in &plan.warnings {
        eprintln!("warning: {}", loaded.origins.warning_line(warning));
    }
    render_plan(&plan, out, &listen.options()?)?;
    for secret in &loaded.secrets {
        eprintln!(
            "{} comes from Secret {} key {} (set it in Envoy's environment, e.g. a secretKeyRef)",
            secret.env, secret.secret, secret.key
        );
    }
    if !resources.virtual_keys.is_empty() {
        eprintln!(
            "note: {} VirtualKey resource(s) skipped: keys are not part of Envoy's config (the operator applies them to the keyservice)",
            resources.virtual_keys.len()
        );
    }
    Ok(())
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
    config: Option<&Path>,
    listen: &Listen,
    flags: &LitellmFlags,
    workdir: &Path,
    log_level: &str,
) -> Result<(), String> {
    let envoy = up::find_envoy()?;
    let (loaded, mut plan, forced) =
        load_for_up(config, &flags.model_flags()).ok_or("the config has errors (above)")?;
    if let Some(model) = &forced {
        println!("serving {model} for every request, whatever model it names (--model)");
    }
    let debug = litellm_cli::debug_reason(flags.debug, flags.detailed_debug, &loaded, &process_env);
    if let Some(reason) = debug {
        plan.debug_requests = true;
        println!(
            "debug mode ({reason}): each provider request is printed as \"POST Request Sent from LiteLLM:\" with a curl command (credentials masked), then the provider's status"
        );
    }
    if flags.telemetry.is_some() {
        println!("--telemetry: accepted; Switchyard sends no telemetry");
    }
    // The keyservice `up` starts and Envoy share a reporting credential made for this
    // run (spend reports are authenticated in every mode); with --keyservice (one the
    // user runs) the environment must hold the one that keyservice has.
    let own_keyservice = plan.keys.is_some() && listen.keyservice.is_none();
    let reporter_key = if own_keyservice {
        let key = up::new_reporter_key()?;
        std::env::set_var(plan::REPORTER_KEY_VARIABLE, &key);
        Some(key)
    } else {
        None
    };
    let missing = missing_env(&plan);
    if !missing.is_empty() {
        return Err(format!(
            "{}: these environment variables are not set (referenced as os.environ/… or provider default keys): {}",
            loaded.file_name,
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
    if opts.admin_port == 0 {
        // Known at render time, for the admin cluster `/metrics` reads Envoy's stats
        // through.
        opts.admin_port = up::free_loopback_port()?;
    }
    let mut keyservice = match (&plan.keys, &reporter_key) {
        (Some(keys), Some(reporter_key)) => {
            Some(up::start_keyservice(keys, workdir, reporter_key)?)
        }
        _ => None,
    };
    if let Some(ks) = &keyservice {
        opts.keyservice = Some(ks.addr.clone());
        opts.keyservice_ca = None;
    }
    let envoy_options = up::EnvoyOptions {
        log_level,
        concurrency: flags.num_workers,
        debug: plan.debug_requests,
    };
    let started = render_plan(&plan, &workdir.join("envoy"), &opts)
        .and_then(|bootstrap| up::start(&envoy, &bootstrap, workdir, &envoy_options));
    let result = started.and_then(|running| up::run_until_interrupted(running, &listen.host));
    // Last: Envoy's spend reports went to it while Envoy drained.
    if let Some(ks) = keyservice.as_mut() {
        up::stop(&mut ks.child);
    }
    result
}

/// The process environment, as the config's `os.environ/` lookups see it.
fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// `--test`: a chat request to the gateway at `--host`/`--port`, with the master key
/// of `--config` (else `LITELLM_MASTER_KEY`), for `--model` (else the first model the
/// gateway lists); prints the answer.
fn test_command(
    config: Option<&Path>,
    listen: &Listen,
    flags: &LitellmFlags,
) -> Result<(), String> {
    let master_key = match config {
        Some(path) => {
            let (config, _) = litellm::load(path, &process_env).map_err(|e| e.to_string())?;
            config.general_settings.master_key.clone()
        }
        None => None,
    }
    .or_else(|| process_env("LITELLM_MASTER_KEY"))
    .filter(|k| !k.is_empty());
    let answer = up::test_request(
        &listen.host,
        listen.port,
        flags.model.as_deref(),
        master_key.as_deref(),
    )?;
    println!("{answer}");
    Ok(())
}

/// What `up` serves: the config file (if any) with LiteLLM's flags applied, compiled;
/// the group `--model` forces. `None` after printing the error.
fn load_for_up(
    path: Option<&Path>,
    flags: &ModelFlags,
) -> Option<(litellm::Config, plan::Plan, Option<String>)> {
    let (mut config, mut warnings) = match path {
        Some(path) => match litellm::load(path, &process_env) {
            Ok(loaded) => loaded,
            Err(e) => {
                eprintln!("error: {e}");
                return None;
            }
        },
        None if flags.model.is_some() => (litellm_cli::empty_config(), Vec::new()),
        None => {
            eprintln!("error: give a config (--config FILE) or a model (--model MODEL, e.g. ollama/llama3)");
            return None;
        }
    };
    let applied = match litellm_cli::apply(&mut config, flags, &process_env) {
        Ok(applied) => applied,
        Err(e) => {
            eprintln!("error: {e}");
            return None;
        }
    };
    warnings.extend(applied.warnings);
    let (config, mut plan) = compile_loaded(config, &warnings)?;
    if let Some(group) = &applied.forced_group {
        if !plan.router.groups.iter().any(|g| &g.name == group) {
            eprintln!("error: --model {group}: no deployment serves it (see the warnings above)");
            return None;
        }
        plan.router.forced_group = Some(group.clone());
    }
    Some((config, plan, applied.forced_group))
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
    compile_loaded(config, &warnings)
}

/// Compiles a loaded config, printing its load warnings and the plan's to stderr.
fn compile_loaded(
    config: litellm::Config,
    warnings: &[litellm::Warning],
) -> Option<(litellm::Config, plan::Plan)> {
    for warning in warnings {
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
