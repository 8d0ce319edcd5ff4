//! Raw proxy-wasm hostcalls that report every status as a `Result`.
//!
//! The SDK's `hostcalls::*` functions return `Result` but still `panic!` on a status
//! they did not expect, and a panic is a wasm trap that takes down the worker's VM.
//! These wrappers call the same ABI imports and turn *any* non-OK status into `Err`.

use std::ptr::{null, null_mut};

/// A non-OK proxy-wasm status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status(pub u32);

const OK: u32 = 0;
const NOT_FOUND: u32 = 1;

/// `proxy_wasm::types::MapType` values.
pub const REQUEST_HEADERS: u32 = 0;
/// Response header map.
pub const RESPONSE_HEADERS: u32 = 2;
/// `proxy_wasm::types::BufferType` values.
pub const REQUEST_BODY: u32 = 0;
/// Response body buffer.
pub const RESPONSE_BODY: u32 = 1;
/// Headers of an HTTP callout's response.
pub const HTTP_CALL_RESPONSE_HEADERS: u32 = 6;
/// Body of an HTTP callout's response.
pub const HTTP_CALL_RESPONSE_BODY: u32 = 4;
/// `proxy_wasm::types::StreamType::HttpRequest`.
const STREAM_HTTP_REQUEST: u32 = 0;
/// `proxy_wasm::types::StreamType::HttpResponse`.
const STREAM_HTTP_RESPONSE: u32 = 1;
/// `proxy_wasm::types::Status::Empty` (a shared queue with nothing in it).
const EMPTY: u32 = 7;
/// The plugin's `configuration`.
pub const PLUGIN_CONFIGURATION: u32 = 7;

#[link(wasm_import_module = "wasi_snapshot_preview1")]
extern "C" {
    /// WASI's source of randomness (`random_get(buf, buf_len) -> errno`).
    fn random_get(buf: *mut u8, buf_len: usize) -> u16;
}

/// Fills `buf` from WASI's `random_get`; `Err(errno)` when the host refuses.
pub fn random_bytes(buf: &mut [u8]) -> Result<(), u16> {
    // SAFETY: `buf` is a live, writable slice of `buf.len()` bytes.
    match unsafe { random_get(buf.as_mut_ptr(), buf.len()) } {
        0 => Ok(()),
        errno => Err(errno),
    }
}

#[link(wasm_import_module = "env")]
extern "C" {
    fn proxy_log(level: u32, message_data: *const u8, message_size: usize) -> u32;
    fn proxy_get_current_time_nanoseconds(return_time: *mut u64) -> u32;
    fn proxy_set_tick_period_milliseconds(period: u32) -> u32;
    fn proxy_get_shared_data(
        key_data: *const u8,
        key_size: usize,
        return_value_data: *mut *mut u8,
        return_value_size: *mut usize,
        return_cas: *mut u32,
    ) -> u32;
    fn proxy_set_shared_data(
        key_data: *const u8,
        key_size: usize,
        value_data: *const u8,
        value_size: usize,
        cas: u32,
    ) -> u32;
    fn proxy_set_effective_context(context_id: u32) -> u32;
    fn proxy_define_metric(
        metric_type: u32,
        name_data: *const u8,
        name_size: usize,
        return_id: *mut u32,
    ) -> u32;
    fn proxy_increment_metric(metric_id: u32, offset: i64) -> u32;
    fn proxy_record_metric(metric_id: u32, value: u64) -> u32;
    fn proxy_get_metric(metric_id: u32, return_value: *mut u64) -> u32;
    fn proxy_continue_stream(stream_type: u32) -> u32;
    fn proxy_close_stream(stream_type: u32) -> u32;
    fn proxy_register_shared_queue(
        name_data: *const u8,
        name_size: usize,
        return_id: *mut u32,
    ) -> u32;
    fn proxy_enqueue_shared_queue(queue_id: u32, value_data: *const u8, value_size: usize) -> u32;
    fn proxy_dequeue_shared_queue(
        queue_id: u32,
        return_value_data: *mut *mut u8,
        return_value_size: *mut usize,
    ) -> u32;
    fn proxy_get_buffer_bytes(
        buffer_type: u32,
        start: usize,
        max_size: usize,
        return_buffer_data: *mut *mut u8,
        return_buffer_size: *mut usize,
    ) -> u32;
    fn proxy_set_buffer_bytes(
        buffer_type: u32,
        start: usize,
        size: usize,
        buffer_data: *const u8,
        buffer_size: usize,
    ) -> u32;
    fn proxy_get_header_map_value(
        map_type: u32,
        key_data: *const u8,
        key_size: usize,
        return_value_data: *mut *mut u8,
        return_value_size: *mut usize,
    ) -> u32;
    fn proxy_replace_header_map_value(
        map_type: u32,
        key_data: *const u8,
        key_size: usize,
        value_data: *const u8,
        value_size: usize,
    ) -> u32;
    fn proxy_get_header_map_pairs(
        map_type: u32,
        return_map_data: *mut *mut u8,
        return_map_size: *mut usize,
    ) -> u32;
    fn proxy_remove_header_map_value(map_type: u32, key_data: *const u8, key_size: usize) -> u32;
    fn proxy_send_local_response(
        status_code: u32,
        status_code_details_data: *const u8,
        status_code_details_size: usize,
        body_data: *const u8,
        body_size: usize,
        headers_data: *const u8,
        headers_size: usize,
        grpc_status: i32,
    ) -> u32;
    fn proxy_get_property(
        path_data: *const u8,
        path_size: usize,
        return_value_data: *mut *mut u8,
        return_value_size: *mut usize,
    ) -> u32;
    fn proxy_set_property(
        path_data: *const u8,
        path_size: usize,
        value_data: *const u8,
        value_size: usize,
    ) -> u32;
    fn proxy_call_foreign_function(
        function_name_data: *const u8,
        function_name_size: usize,
        arguments_data: *const u8,
        arguments_size: usize,
        results_data: *mut *mut u8,
        results_size: *mut usize,
    ) -> u32;
}

fn check(status: u32) -> Result<(), Status> {
    if status == OK {
        Ok(())
    } else {
        Err(Status(status))
    }
}

/// Takes ownership of host-allocated bytes (allocated through the SDK's exported
/// `proxy_on_memory_allocate`, which uses the Rust allocator).
///
/// # Safety
/// `data` must be null or a buffer of `size` bytes the host allocated for us.
unsafe fn take(data: *mut u8, size: usize) -> Option<Vec<u8>> {
    if data.is_null() {
        None
    } else {
        Some(Vec::from_raw_parts(data, size, size))
    }
}

/// Writes a log line at `level` (0 trace … 4 error, 5 critical).
pub fn log(level: u32, message: &str) -> Result<(), Status> {
    // SAFETY: pointer and length describe a live &str.
    check(unsafe { proxy_log(level, message.as_ptr(), message.len()) })
}

/// Nanoseconds since the Unix epoch.
pub fn now_nanos() -> Result<u64, Status> {
    let mut t = 0u64;
    // SAFETY: `t` is a valid out-pointer.
    check(unsafe { proxy_get_current_time_nanoseconds(&mut t) })?;
    Ok(t)
}

/// Bytes `[start, start+max)` of a buffer; `Ok(None)` when there is none.
pub fn get_buffer(buffer: u32, start: usize, max: usize) -> Result<Option<Vec<u8>>, Status> {
    let mut data = null_mut();
    let mut size = 0usize;
    // SAFETY: valid out-pointers; the host fills them with an allocation we own.
    match unsafe { proxy_get_buffer_bytes(buffer, start, max, &mut data, &mut size) } {
        OK => Ok(unsafe { take(data, size) }),
        NOT_FOUND => Ok(None),
        s => Err(Status(s)),
    }
}

/// Replaces `[start, start+size)` of a buffer with `value`.
pub fn set_buffer(buffer: u32, start: usize, size: usize, value: &[u8]) -> Result<(), Status> {
    // SAFETY: pointer and length describe a live slice.
    check(unsafe { proxy_set_buffer_bytes(buffer, start, size, value.as_ptr(), value.len()) })
}

/// One header's value; `Ok(None)` when absent.
pub fn get_header(map: u32, name: &str) -> Result<Option<String>, Status> {
    let mut data = null_mut();
    let mut size = 0usize;
    // SAFETY: as in `get_buffer`.
    match unsafe {
        proxy_get_header_map_value(map, name.as_ptr(), name.len(), &mut data, &mut size)
    } {
        OK => Ok(unsafe { take(data, size) }.map(|v| String::from_utf8_lossy(&v).into_owned())),
        NOT_FOUND => Ok(None),
        s => Err(Status(s)),
    }
}

/// Every header of a map, in one hostcall; `Ok(None)` when the map is absent.
pub fn get_header_pairs(map: u32) -> Result<Option<Vec<(String, String)>>, Status> {
    let mut data = null_mut();
    let mut size = 0usize;
    // SAFETY: as in `get_buffer`.
    match unsafe { proxy_get_header_map_pairs(map, &mut data, &mut size) } {
        OK => Ok(unsafe { take(data, size) }
            .map(|raw| crate::host::decode_header_pairs(&raw).unwrap_or_default())),
        NOT_FOUND => Ok(None),
        s => Err(Status(s)),
    }
}

/// Sets or (with `None`) removes a header.
pub fn set_header(map: u32, name: &str, value: Option<&str>) -> Result<(), Status> {
    // SAFETY: pointers and lengths describe live strings.
    check(unsafe {
        match value {
            Some(v) => {
                proxy_replace_header_map_value(map, name.as_ptr(), name.len(), v.as_ptr(), v.len())
            }
            None => proxy_remove_header_map_value(map, name.as_ptr(), name.len()),
        }
    })
}

/// Serializes headers the way the ABI wants them: count, sizes, then NUL-ended bytes.
fn serialize_headers(headers: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&(headers.len() as u32).to_le_bytes());
    for (k, v) in headers {
        out.extend_from_slice(&(k.len() as u32).to_le_bytes());
        out.extend_from_slice(&(v.len() as u32).to_le_bytes());
    }
    for (k, v) in headers {
        out.extend_from_slice(k.as_bytes());
        out.push(0);
        out.extend_from_slice(v.as_bytes());
        out.push(0);
    }
    out
}

/// Answers the client directly.
pub fn send_local_response(
    status: u16,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<(), Status> {
    let headers = serialize_headers(headers);
    // SAFETY: pointers and lengths describe live buffers.
    check(unsafe {
        proxy_send_local_response(
            u32::from(status),
            null(),
            0,
            body.as_ptr(),
            body.len(),
            headers.as_ptr(),
            headers.len(),
            -1,
        )
    })
}

/// Calls a host "foreign function" (e.g. `clear_route_cache`).
pub fn call_foreign_function(name: &str, args: &[u8]) -> Result<Option<Vec<u8>>, Status> {
    let mut data = null_mut();
    let mut size = 0usize;
    // SAFETY: as in `get_buffer`.
    match unsafe {
        proxy_call_foreign_function(
            name.as_ptr(),
            name.len(),
            args.as_ptr(),
            args.len(),
            &mut data,
            &mut size,
        )
    } {
        OK => Ok(unsafe { take(data, size) }),
        NOT_FOUND => Ok(None),
        s => Err(Status(s)),
    }
}

/// A property path as the ABI wants it: segments joined by NUL.
fn property_path(path: &[&str]) -> Vec<u8> {
    path.join("\0").into_bytes()
}

/// A property (filter state, `xds.*` attributes, …); `Ok(None)` when absent.
pub fn get_property(path: &[&str]) -> Result<Option<Vec<u8>>, Status> {
    let raw = property_path(path);
    let mut data = null_mut();
    let mut size = 0usize;
    // SAFETY: as in `get_buffer`.
    match unsafe { proxy_get_property(raw.as_ptr(), raw.len(), &mut data, &mut size) } {
        OK => Ok(unsafe { take(data, size) }),
        NOT_FOUND => Ok(None),
        s => Err(Status(s)),
    }
}

/// Sets a filter-state property for the rest of the request.
pub fn set_property(path: &[&str], value: &[u8]) -> Result<(), Status> {
    let raw = property_path(path);
    // SAFETY: pointers and lengths describe live buffers.
    check(unsafe { proxy_set_property(raw.as_ptr(), raw.len(), value.as_ptr(), value.len()) })
}

/// Calls the root context's `on_tick` every `ms` milliseconds.
pub fn set_tick_period_ms(ms: u32) -> Result<(), Status> {
    // SAFETY: no pointers.
    check(unsafe { proxy_set_tick_period_milliseconds(ms) })
}

/// A shared-data value and its compare-and-swap version; `(None, None)` when the
/// key is absent.
pub fn get_shared_data(key: &str) -> Result<(Option<Vec<u8>>, Option<u32>), Status> {
    let mut data = null_mut();
    let mut size = 0usize;
    let mut cas = 0u32;
    // SAFETY: valid out-pointers; the host fills them with an allocation we own.
    match unsafe { proxy_get_shared_data(key.as_ptr(), key.len(), &mut data, &mut size, &mut cas) }
    {
        OK => Ok((unsafe { take(data, size) }, Some(cas))),
        NOT_FOUND => Ok((None, None)),
        s => Err(Status(s)),
    }
}

/// Sets a shared-data value; with `cas`, only if the value is still that version
/// (else `Err(Status(8))`, CAS mismatch).
pub fn set_shared_data(key: &str, value: &[u8], cas: Option<u32>) -> Result<(), Status> {
    // SAFETY: pointers and lengths describe live buffers.
    check(unsafe {
        proxy_set_shared_data(
            key.as_ptr(),
            key.len(),
            value.as_ptr(),
            value.len(),
            cas.unwrap_or(0),
        )
    })
}

/// CAS mismatch (`proxy_wasm::types::Status::CasMismatch`).
pub const CAS_MISMATCH: u32 = 8;
/// `proxy_wasm::types::MetricType::Counter`.
pub const METRIC_COUNTER: u32 = 0;
/// `proxy_wasm::types::MetricType::Gauge`.
pub const METRIC_GAUGE: u32 = 1;

/// Defines (or finds) a stat of this plugin, returning this VM's id for it.
pub fn define_metric(metric_type: u32, name: &str) -> Result<u32, Status> {
    let mut id = 0u32;
    // SAFETY: pointer and length describe a live &str; `id` is a valid out-pointer.
    check(unsafe { proxy_define_metric(metric_type, name.as_ptr(), name.len(), &mut id) })?;
    Ok(id)
}

/// Adds `offset` to a stat.
pub fn increment_metric(id: u32, offset: i64) -> Result<(), Status> {
    // SAFETY: plain values.
    check(unsafe { proxy_increment_metric(id, offset) })
}

/// Sets a gauge.
pub fn record_metric(id: u32, value: u64) -> Result<(), Status> {
    // SAFETY: plain values.
    check(unsafe { proxy_record_metric(id, value) })
}

/// A stat's value.
pub fn get_metric(id: u32) -> Result<u64, Status> {
    let mut value = 0u64;
    // SAFETY: `value` is a valid out-pointer.
    check(unsafe { proxy_get_metric(id, &mut value) })?;
    Ok(value)
}

/// Makes `context_id` (an HTTP context) the one later hostcalls act on.
pub fn set_effective_context(context_id: u32) -> Result<(), Status> {
    // SAFETY: no pointers.
    check(unsafe { proxy_set_effective_context(context_id) })
}

/// Resumes the effective context's paused request.
pub fn resume_request() -> Result<(), Status> {
    // SAFETY: no pointers.
    check(unsafe { proxy_continue_stream(STREAM_HTTP_REQUEST) })
}

/// Resumes the effective context's paused (buffered) response.
pub fn resume_response() -> Result<(), Status> {
    // SAFETY: no pointers.
    check(unsafe { proxy_continue_stream(STREAM_HTTP_RESPONSE) })
}

/// Resets the effective context's response stream.
pub fn close_response() -> Result<(), Status> {
    // SAFETY: no pointers.
    check(unsafe { proxy_close_stream(STREAM_HTTP_RESPONSE) })
}

/// Registers (or takes over) the shared queue `name` for the calling root context,
/// which then gets `on_queue_ready` on its own thread; returns the queue id.
pub fn register_shared_queue(name: &str) -> Result<u32, Status> {
    let mut id = 0u32;
    // SAFETY: pointer and length describe a live string; valid out-pointer.
    check(unsafe { proxy_register_shared_queue(name.as_ptr(), name.len(), &mut id) })?;
    Ok(id)
}

/// Appends `value` to a shared queue.
pub fn enqueue_shared_queue(queue_id: u32, value: &[u8]) -> Result<(), Status> {
    // SAFETY: pointer and length describe a live slice.
    check(unsafe { proxy_enqueue_shared_queue(queue_id, value.as_ptr(), value.len()) })
}

/// Takes the oldest item of a shared queue; `Ok(None)` when it is empty.
pub fn dequeue_shared_queue(queue_id: u32) -> Result<Option<Vec<u8>>, Status> {
    let mut data = null_mut();
    let mut size = 0usize;
    // SAFETY: valid out-pointers; the host fills them with an allocation we own.
    match unsafe { proxy_dequeue_shared_queue(queue_id, &mut data, &mut size) } {
        OK => Ok(unsafe { take(data, size) }),
        EMPTY => Ok(None),
        s => Err(Status(s)),
    }
}
