//! The proxy-wasm glue: the only code that knows it runs inside Envoy.
//!
//! It registers one root context per plugin instance, reads the plugin
//! configuration to learn its stage (router or upstream), and forwards each HTTP
//! callback to the sans-IO stage logic through [`WasmHost`], an implementation of
//! [`Host`] over the raw ABI in [`abi`]. A panic hook logs any panic before the trap.

mod abi;
mod attempts;
mod callback_reports;
mod deadlines;
mod google;
mod spend_reports;

use std::rc::Rc;

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel};

use crate::host::{Flow, Host, Level};
use crate::plugin_config::{CallbacksConfig, PluginConfig, SpendReporting};
use crate::stages::responder::ResponderExchange;
use crate::stages::router::{Router, RouterExchange};
use crate::stages::upstream::{Upstream, UpstreamExchange};

const LOG_DEBUG: u32 = 1;
const LOG_INFO: u32 = 2;
const LOG_WARN: u32 = 3;
const LOG_ERROR: u32 = 4;
const LOG_CRITICAL: u32 = 5;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Info);
    std::panic::set_hook(Box::new(|info| {
        let _ = abi::log(LOG_CRITICAL, &format!("switchyard filter panicked: {info}"));
    }));
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> {
        Box::new(SwitchyardRoot { stage: None, reporter: None, callbacks: None, tokens: None, keeps_deadlines: false, tick_ms: 0, stopping: false })
    });
}}

/// [`Host`] over the proxy-wasm ABI for the current HTTP context.
struct WasmHost;

fn log_failure(what: &str, status: abi::Status) {
    let _ = abi::log(
        LOG_WARN,
        &format!(
            "switchyard: hostcall {what} failed with status {}",
            status.0
        ),
    );
}

impl Host for WasmHost {
    fn request_header(&self, name: &str) -> Option<String> {
        abi::get_header(abi::REQUEST_HEADERS, name).unwrap_or_else(|s| {
            log_failure("get request header", s);
            None
        })
    }
    fn request_headers(&self) -> Vec<(String, String)> {
        abi::get_header_pairs(abi::REQUEST_HEADERS)
            .unwrap_or_else(|s| {
                log_failure("get request headers", s);
                None
            })
            .unwrap_or_default()
    }
    fn set_request_header(&mut self, name: &str, value: Option<&str>) {
        if let Err(s) = abi::set_header(abi::REQUEST_HEADERS, name, value) {
            log_failure("set request header", s);
        }
    }
    fn response_header(&self, name: &str) -> Option<String> {
        abi::get_header(abi::RESPONSE_HEADERS, name).unwrap_or_else(|s| {
            log_failure("get response header", s);
            None
        })
    }
    fn set_response_header(&mut self, name: &str, value: Option<&str>) {
        if let Err(s) = abi::set_header(abi::RESPONSE_HEADERS, name, value) {
            log_failure("set response header", s);
        }
    }
    fn request_body(&self, len: usize) -> Option<Vec<u8>> {
        abi::get_buffer(abi::REQUEST_BODY, 0, len).unwrap_or_else(|s| {
            log_failure("get request body", s);
            None
        })
    }
    fn replace_request_body(&mut self, len: usize, body: &[u8]) {
        if let Err(s) = abi::set_buffer(abi::REQUEST_BODY, 0, len, body) {
            log_failure("set request body", s);
        }
    }
    fn response_body(&self, len: usize) -> Option<Vec<u8>> {
        abi::get_buffer(abi::RESPONSE_BODY, 0, len).unwrap_or_else(|s| {
            log_failure("get response body", s);
            None
        })
    }
    fn replace_response_body(&mut self, len: usize, body: &[u8]) {
        if let Err(s) = abi::set_buffer(abi::RESPONSE_BODY, 0, len, body) {
            log_failure("set response body", s);
        }
    }
    fn send_local_reply(&mut self, status: u16, headers: &[(&str, &str)], body: &[u8]) {
        if let Err(s) = abi::send_local_response(status, headers, body) {
            log_failure("send local response", s);
        }
    }
    fn property(&self, path: &[&str]) -> Option<Vec<u8>> {
        abi::get_property(path).unwrap_or_else(|s| {
            log_failure("get property", s);
            None
        })
    }
    fn set_property(&mut self, path: &[&str], value: &[u8]) {
        if let Err(s) = abi::set_property(path, value) {
            log_failure("set property", s);
        }
    }
    fn clear_route_cache(&mut self) {
        if let Err(s) = abi::call_foreign_function("clear_route_cache", &[]) {
            log_failure("clear_route_cache", s);
        }
    }
    fn log(&self, level: Level, message: &str) {
        let level = match level {
            Level::Debug => LOG_DEBUG,
            Level::Info => LOG_INFO,
            Level::Warn => LOG_WARN,
            Level::Error => LOG_ERROR,
        };
        let _ = abi::log(level, message);
    }
    fn now_unix_secs(&self) -> u64 {
        abi::now_nanos().map(|n| n / 1_000_000_000).unwrap_or(0)
    }
    fn now_unix_millis(&self) -> u64 {
        abi::now_nanos().map(|n| n / 1_000_000).unwrap_or(0)
    }
    fn shared_data(&self, key: &str) -> Option<Vec<u8>> {
        abi::get_shared_data(key).ok().and_then(|(v, _)| v)
    }
    fn shared_data_versioned(&self, key: &str) -> Option<(Vec<u8>, u32)> {
        match abi::get_shared_data(key) {
            // An empty value comes back as no bytes with a version.
            Ok((value, Some(cas))) => Some((value.unwrap_or_default(), cas)),
            Ok((_, None)) => None,
            Err(s) => {
                log_failure("get shared data", s);
                None
            }
        }
    }
    fn set_shared_data(
        &self,
        key: &str,
        value: &[u8],
        cas: Option<u32>,
    ) -> Result<(), crate::host::SharedWriteError> {
        abi::set_shared_data(key, value, cas).map_err(|s| {
            if s.0 == abi::CAS_MISMATCH {
                crate::host::SharedWriteError::CasMismatch
            } else {
                log_failure("set shared data", s);
                crate::host::SharedWriteError::Failed
            }
        })
    }
    fn define_metric(&self, kind: crate::host::StatKind, name: &str) -> Option<u32> {
        let metric_type = match kind {
            crate::host::StatKind::Counter => abi::METRIC_COUNTER,
            crate::host::StatKind::Gauge => abi::METRIC_GAUGE,
        };
        abi::define_metric(metric_type, name)
            .map_err(|s| log_failure("define metric", s))
            .ok()
    }
    fn increment_metric(&self, id: u32, delta: i64) {
        if let Err(s) = abi::increment_metric(id, delta) {
            log_failure("increment metric", s);
        }
    }
    fn record_metric(&self, id: u32, value: u64) {
        if let Err(s) = abi::record_metric(id, value) {
            log_failure("record metric", s);
        }
    }
    fn get_metric(&self, id: u32) -> Option<u64> {
        abi::get_metric(id)
            .map_err(|s| log_failure("get metric", s))
            .ok()
    }
    fn queue_spend_report(&self, report: Vec<u8>, now_ms: u64) {
        spend_reports::enqueue(report, now_ms);
    }
    fn queue_callback_event(&self, callback: usize, event: Vec<u8>, now_ms: u64) {
        callback_reports::enqueue(callback, event, now_ms);
    }
    fn random_bytes(&self, buf: &mut [u8]) {
        if let Err(errno) = abi::random_bytes(buf) {
            let _ = abi::log(
                LOG_ERROR,
                &format!(
                    "switchyard: WASI random_get failed (errno {errno}): a call id is not random"
                ),
            );
        }
    }
    fn leave_attempt(&self, call_id: &str, attempt: u64, record: crate::observe::AttemptRecord) {
        attempts::leave(call_id, attempt, record);
    }
    fn take_attempts(&self, call_id: &str) -> Vec<crate::observe::AttemptRecord> {
        attempts::take(call_id)
    }
    fn peek_attempts(&self, call_id: &str) -> Vec<crate::observe::AttemptRecord> {
        attempts::peek(call_id)
    }
    fn resume_response(&mut self) {
        if let Err(s) = abi::resume_response() {
            log_failure("resume response", s);
        }
    }
    fn dispatch_http_call(
        &mut self,
        cluster: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        timeout_ms: u64,
    ) -> Result<u32, String> {
        // The SDK's call registers the callout with its dispatcher, so the answer
        // comes back to the HTTP context that made it.
        proxy_wasm::hostcalls::dispatch_http_call(
            cluster,
            headers.to_vec(),
            Some(body),
            vec![],
            std::time::Duration::from_millis(timeout_ms),
        )
        .map_err(|status| format!("{status:?}"))
    }
}

/// The answer to a callout of the current context (headers, body).
fn call_answer(body_size: usize) -> crate::host::CallAnswer {
    let headers = abi::get_header_pairs(abi::HTTP_CALL_RESPONSE_HEADERS)
        .ok()
        .flatten()
        .unwrap_or_default();
    let status = crate::host::header_in(&headers, ":status")
        .and_then(|s| s.parse::<u16>().ok())
        .unwrap_or(0);
    let body = abi::get_buffer(abi::HTTP_CALL_RESPONSE_BODY, 0, body_size)
        .ok()
        .flatten()
        .unwrap_or_default();
    crate::host::CallAnswer {
        status,
        headers,
        body,
    }
}

thread_local! {
    /// The router stage's tables, for the responder stage of the same VM, which
    /// routes a request again when a key's alias names another model
    /// (`responder::ResponderExchange::on_request_body`). One router stage per VM:
    /// the renders give the listener one.
    static ROUTER_TABLES: std::cell::RefCell<Option<Rc<Router>>> =
        const { std::cell::RefCell::new(None) };
}

/// What a configured plugin instance is.
enum Stage {
    Router(Rc<Router>),
    Upstream(Rc<Upstream>),
    Responder,
}

struct SwitchyardRoot {
    stage: Option<Stage>,
    /// Router stage with spend reporting: this worker's reporter.
    reporter: Option<spend_reports::Reporter>,
    /// Router stage with logging callbacks: this worker's senders.
    callbacks: Option<callback_reports::Senders>,
    /// Upstream stage with Vertex deployments: their Google access tokens.
    tokens: Option<google::TokenKeeper>,
    /// This root keeps the worker's per-attempt deadlines (`deadlines`).
    keeps_deadlines: bool,
    /// The tick period set last (0: none).
    tick_ms: u32,
    /// The VM is going away (`on_done` came): `proxy_done` follows the last answer.
    stopping: bool,
}

impl SwitchyardRoot {
    /// Sets the tick period when it changes.
    fn set_tick(&mut self, ms: u32) -> bool {
        if ms == self.tick_ms {
            return true;
        }
        match abi::set_tick_period_ms(ms) {
            Ok(()) => {
                self.tick_ms = ms;
                true
            }
            Err(s) => {
                log_failure("set tick period", s);
                false
            }
        }
    }
}

fn now_ms() -> u64 {
    abi::now_nanos().map(|n| n / 1_000_000).unwrap_or(0)
}

impl Context for SwitchyardRoot {
    fn on_http_call_response(
        &mut self,
        token: u32,
        _headers: usize,
        body: usize,
        _trailers: usize,
    ) {
        if let Some(keeper) = self.tokens.as_mut() {
            if keeper.on_http_call_response(token, body) {
                return;
            }
        }
        if self.reporter.is_none() && self.callbacks.is_none() {
            return;
        }
        let status = abi::get_header(abi::HTTP_CALL_RESPONSE_HEADERS, ":status")
            .ok()
            .flatten()
            .and_then(|s| s.parse::<u16>().ok())
            .unwrap_or(0);
        let answered = match self.reporter.as_mut() {
            Some(reporter) => reporter.on_answer(&mut WasmHost, token, status),
            None => false,
        };
        if !answered {
            if let Some(senders) = self.callbacks.as_mut() {
                senders.on_answer(&mut WasmHost, token, status);
            }
        }
        // Stopping, and the last answer of the last flush is in: the VM may go.
        let reports_done = self.reporter.as_ref().is_none_or(|r| r.is_drained());
        let callbacks_done = self.callbacks.as_ref().is_none_or(|c| c.is_idle());
        if self.stopping && reports_done && callbacks_done {
            let _ = proxy_wasm::hostcalls::done();
        }
    }

    /// The VM is going away (Envoy stops, or the plugin is replaced): send every
    /// queued report at once, backoffs ignored, and ask Envoy to wait for the answers
    /// (`proxy_done` follows the last one). Whether Envoy keeps its event loop running
    /// that long is Envoy's choice: `switchyard up` drains the listener and waits for
    /// the queues to empty (the pending-reports gauge, `spend_reports`) before it
    /// stops Envoy.
    fn on_done(&mut self) -> bool {
        self.stopping = true;
        let reports_idle = match self.reporter.as_mut() {
            Some(reporter) => reporter.on_done(&mut WasmHost),
            None => true,
        };
        let callbacks_idle = match self.callbacks.as_mut() {
            Some(senders) => senders.on_done(&mut WasmHost),
            None => true,
        };
        reports_idle && callbacks_idle
    }
}

/// What the router stage's root context sends off the request path: spend reports
/// and the logging callbacks' events.
type Reporting = (Option<SpendReporting>, Option<CallbacksConfig>);

/// The stage a plugin configuration asks for, and (router stage) where spend
/// reports and callback events go.
fn configure(raw: &[u8]) -> Result<(Stage, Reporting), String> {
    let config: PluginConfig = serde_json::from_slice(raw)
        .map_err(|e| format!("plugin configuration is not valid: {e}"))?;
    let env = |name: &str| std::env::var(name).ok();
    match config {
        PluginConfig::Router(c) => Router::new(&c).map(|r| {
            // The metrics catalog exists before this worker serves a request.
            r.observers().metrics.prepare(&WasmHost);
            let router = Rc::new(r);
            ROUTER_TABLES.with(|t| *t.borrow_mut() = Some(Rc::clone(&router)));
            (
                Stage::Router(router),
                (c.spend_reporting.clone(), c.callbacks.clone()),
            )
        }),
        PluginConfig::Upstream(c) => {
            Upstream::new(&c, &env).map(|u| (Stage::Upstream(Rc::new(u)), (None, None)))
        }
        PluginConfig::Responder(_) => Ok((Stage::Responder, (None, None))),
    }
}

impl RootContext for SwitchyardRoot {
    fn on_configure(&mut self, _size: usize) -> bool {
        let raw = match abi::get_buffer(abi::PLUGIN_CONFIGURATION, 0, usize::MAX) {
            Ok(Some(raw)) => raw,
            Ok(None) => {
                let _ = abi::log(LOG_ERROR, "switchyard: the plugin has no configuration");
                return false;
            }
            Err(s) => {
                log_failure("get plugin configuration", s);
                return false;
            }
        };
        match configure(&raw) {
            Ok((stage, (reporting, callbacks))) => {
                if let Stage::Upstream(u) = &stage {
                    let accounts = u.google_accounts();
                    if !accounts.is_empty() {
                        if !self.set_tick(google::SLOW_TICK_MS) {
                            return false;
                        }
                        // The health-probe VM fetches a token only for a probe.
                        let probe_vm = matches!(
                            abi::get_property(&["plugin_vm_id"]),
                            Ok(Some(id)) if id == crate::plugin_config::PROBE_VM_ID.as_bytes()
                        );
                        self.tokens = Some(google::TokenKeeper::new(accounts, !probe_vm));
                    }
                    if u.watches_streams() && deadlines::take_ownership() {
                        self.keeps_deadlines = true;
                        if !self.set_tick(deadlines::TICK_MS) {
                            return false;
                        }
                    }
                }
                self.stage = Some(stage);
                if let Some(r) = reporting {
                    let lookup = |name: &str| std::env::var(name).ok();
                    let authorization = match &r.auth {
                        Some(setting) => match setting.resolve("spend_reporting.auth", &lookup) {
                            Ok(key) => Some(format!("Bearer {key}")),
                            Err(e) => {
                                let _ = abi::log(
                                    LOG_CRITICAL,
                                    &format!("switchyard: configuration rejected: {e}"),
                                );
                                return false;
                            }
                        },
                        None => None,
                    };
                    if !self.set_tick(spend_reports::REPORT_TICK_MS) {
                        return false;
                    }
                    self.reporter = Some(spend_reports::Reporter::new(r.cluster, authorization));
                }
                if let Some(c) = callbacks.filter(|c| !c.sinks.is_empty()) {
                    match callback_reports::Senders::new(&c) {
                        Ok(senders) => self.callbacks = Some(senders),
                        Err(e) => {
                            let _ = abi::log(
                                LOG_CRITICAL,
                                &format!("switchyard: configuration rejected: {e}"),
                            );
                            return false;
                        }
                    }
                    if !self.set_tick(spend_reports::REPORT_TICK_MS) {
                        return false;
                    }
                }
                true
            }
            Err(e) => {
                let _ = abi::log(
                    LOG_CRITICAL,
                    &format!("switchyard: configuration rejected: {e}"),
                );
                false
            }
        }
    }

    fn create_http_context(&self, context_id: u32) -> Option<Box<dyn HttpContext>> {
        match self.stage.as_ref()? {
            Stage::Router(r) => Some(Box::new(RouterHttp {
                router: Rc::clone(r),
                exchange: RouterExchange::default(),
            })),
            Stage::Upstream(u) => Some(Box::new(UpstreamHttp {
                upstream: Rc::clone(u),
                exchange: UpstreamExchange::default(),
                context_id,
            })),
            Stage::Responder => Some(Box::new(ResponderHttp {
                router: ROUTER_TABLES.with(|t| t.borrow().clone()),
                exchange: ResponderExchange::default(),
            })),
        }
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }

    fn on_queue_ready(&mut self, queue_id: u32) {
        if self.keeps_deadlines {
            deadlines::on_queue_ready(queue_id);
        }
    }

    fn on_tick(&mut self) {
        if self.keeps_deadlines {
            deadlines::on_tick();
        }
        if let Some(keeper) = self.tokens.as_mut() {
            let wanted = keeper.on_tick();
            let period = if self.keeps_deadlines {
                wanted.min(deadlines::TICK_MS)
            } else {
                wanted
            };
            self.set_tick(period);
        }
        if let Some(reporter) = self.reporter.as_mut() {
            reporter.on_tick(&mut WasmHost, now_ms());
        }
        if let Some(senders) = self.callbacks.as_mut() {
            senders.on_tick(&mut WasmHost, now_ms());
        }
    }
}

fn action(flow: Flow) -> Action {
    match flow {
        Flow::Continue => Action::Continue,
        Flow::Pause => Action::Pause,
    }
}

struct RouterHttp {
    router: Rc<Router>,
    exchange: RouterExchange,
}

impl Context for RouterHttp {
    fn on_http_call_response(
        &mut self,
        token: u32,
        _headers: usize,
        body_size: usize,
        _trailers: usize,
    ) {
        let answer = call_answer(body_size);
        self.exchange
            .on_http_call_response(&self.router, &mut WasmHost, token, &answer);
    }
}

impl HttpContext for RouterHttp {
    fn on_http_request_headers(&mut self, _n: usize, end_of_stream: bool) -> Action {
        action(
            self.exchange
                .on_request_headers(&self.router, &mut WasmHost, end_of_stream),
        )
    }
    fn on_http_request_body(&mut self, size: usize, end_of_stream: bool) -> Action {
        action(
            self.exchange
                .on_request_body(&self.router, &mut WasmHost, size, end_of_stream),
        )
    }
    fn on_http_response_headers(&mut self, _n: usize, end_of_stream: bool) -> Action {
        if self.router.defers_answers() {
            crate::credentials::strip_from_unfollowed_redirect(&mut WasmHost);
        }
        self.exchange.on_response_headers(&mut WasmHost);
        if end_of_stream {
            self.exchange.on_response_end(&mut WasmHost);
        }
        Action::Continue
    }
    fn on_http_response_body(&mut self, size: usize, end_of_stream: bool) -> Action {
        self.exchange
            .on_response_body(&mut WasmHost, size, end_of_stream);
        if end_of_stream {
            self.exchange.on_response_end(&mut WasmHost);
        }
        Action::Continue
    }
    fn on_log(&mut self) {
        self.exchange.on_log(&self.router, &mut WasmHost);
    }
}

struct UpstreamHttp {
    upstream: Rc<Upstream>,
    exchange: UpstreamExchange,
    context_id: u32,
}

impl Context for UpstreamHttp {
    fn on_http_call_response(
        &mut self,
        token: u32,
        _headers: usize,
        body_size: usize,
        _trailers: usize,
    ) {
        let answer = call_answer(body_size);
        self.exchange
            .on_http_call_response(&self.upstream, &mut WasmHost, token, answer);
    }

    fn on_done(&mut self) -> bool {
        google::unpark(self.context_id);
        deadlines::forget(self.context_id);
        self.exchange.on_done(&self.upstream, &WasmHost);
        true
    }
}

impl HttpContext for UpstreamHttp {
    fn on_http_request_headers(&mut self, _n: usize, end_of_stream: bool) -> Action {
        action(
            self.exchange
                .on_request_headers(&self.upstream, &mut WasmHost, end_of_stream),
        )
    }
    fn on_http_request_body(&mut self, size: usize, end_of_stream: bool) -> Action {
        let flow =
            self.exchange
                .on_request_body(&self.upstream, &mut WasmHost, size, end_of_stream);
        if let Some(key) = self.exchange.awaiting_token() {
            // Resumed (or failed) by the root context once the token is there.
            google::park(self.context_id, key);
        }
        action(flow)
    }
    fn on_http_response_headers(&mut self, _n: usize, end_of_stream: bool) -> Action {
        let flow = self
            .exchange
            .on_response_headers(&self.upstream, &mut WasmHost, end_of_stream);
        deadlines::stream_started(self.context_id, self.exchange.stream_watch(&self.upstream));
        action(flow)
    }
    fn on_http_response_body(&mut self, size: usize, end_of_stream: bool) -> Action {
        if deadlines::cut(self.context_id) {
            // After its error event, nothing more of the provider's stream.
            WasmHost.replace_response_body(size, b"");
            if end_of_stream {
                deadlines::forget(self.context_id);
            }
            return Action::Continue;
        }
        let streaming = self.exchange.is_streaming();
        if streaming {
            self.exchange.hold_stream(deadlines::held(self.context_id));
        }
        let flow =
            self.exchange
                .on_response_body(&self.upstream, &mut WasmHost, size, end_of_stream);
        if streaming && flow == Flow::Continue {
            // Held for an instant, the last chunk too: once a stream was held, Envoy
            // hands this filter its buffered body, not the chunk at hand, so what the
            // stage writes goes on only with a resume (see `deadlines`).
            if deadlines::chunk_passed(
                self.context_id,
                self.exchange.stream_written(),
                end_of_stream,
            ) {
                return Action::Pause;
            }
        } else if streaming {
            deadlines::forget(self.context_id);
        }
        action(flow)
    }
}

struct ResponderHttp {
    /// The router stage's tables (`ROUTER_TABLES`), when this VM has one.
    router: Option<Rc<Router>>,
    exchange: ResponderExchange,
}

impl Context for ResponderHttp {
    fn on_http_call_response(
        &mut self,
        token: u32,
        _headers: usize,
        body_size: usize,
        _trailers: usize,
    ) {
        let answer = call_answer(body_size);
        self.exchange
            .on_http_call_response(self.router.as_deref(), &mut WasmHost, token, &answer);
    }
}

impl HttpContext for ResponderHttp {
    fn on_http_request_headers(&mut self, _n: usize, _end_of_stream: bool) -> Action {
        action(
            self.exchange
                .on_request_headers(self.router.as_deref(), &mut WasmHost),
        )
    }

    fn on_http_request_body(&mut self, size: usize, end_of_stream: bool) -> Action {
        action(self.exchange.on_request_body(
            self.router.as_deref(),
            &mut WasmHost,
            size,
            end_of_stream,
        ))
    }

    fn on_log(&mut self) {
        self.exchange.on_log(&mut WasmHost);
    }
}
