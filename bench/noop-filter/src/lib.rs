//! The benchmark's no-op proxy-wasm filter.
//!
//! Plugin configuration `"pass"`: every callback returns Continue at once: the fixed
//! cost of a wasm filter in a position (context creation, callbacks, teardown).
//! Plugin configuration `"buffer"`: holds the request body until it is whole, reads
//! it once, and holds a response body until it is whole, as Switchyard's stages do,
//! but without any parsing or header work: the cost of the structure alone.

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel};

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Warn);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(NoopRoot { buffer: false, calls: 0 }) });
}}

struct NoopRoot {
    buffer: bool,
    /// `"calls:N"`: N header lookups per request headers callback (hostcall cost).
    calls: usize,
}

impl Context for NoopRoot {}

impl RootContext for NoopRoot {
    fn on_configure(&mut self, _size: usize) -> bool {
        let config = self.get_plugin_configuration().unwrap_or_default();
        self.buffer = config.as_slice() == b"buffer";
        self.calls = std::str::from_utf8(&config)
            .ok()
            .and_then(|c| c.strip_prefix("calls:"))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        true
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(NoopHttp {
            buffer: self.buffer,
            calls: self.calls,
        }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

struct NoopHttp {
    buffer: bool,
    calls: usize,
}

impl Context for NoopHttp {}

impl HttpContext for NoopHttp {
    fn on_http_request_headers(&mut self, _n: usize, _end_of_stream: bool) -> Action {
        for _ in 0..self.calls {
            let _ = self.get_http_request_header("x-not-there");
        }
        Action::Continue
    }

    fn on_http_request_body(&mut self, size: usize, end_of_stream: bool) -> Action {
        if !self.buffer {
            return Action::Continue;
        }
        if !end_of_stream {
            return Action::Pause;
        }
        let _ = self.get_http_request_body(0, size);
        Action::Continue
    }

    fn on_http_response_body(&mut self, size: usize, end_of_stream: bool) -> Action {
        if !self.buffer {
            return Action::Continue;
        }
        if !end_of_stream {
            return Action::Pause;
        }
        let _ = self.get_http_response_body(0, size);
        Action::Continue
    }
}
