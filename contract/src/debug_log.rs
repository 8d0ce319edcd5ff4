//! The markers of the filter's debug messages in Envoy's log: the filter writes
//! them, `switchyard up` finds them in Envoy's output and prints the messages.

/// What the request line of an attempt ends with, after the method: LiteLLM's text.
pub const REQUEST_MARKER: &str = "Request Sent from LiteLLM:";
/// What the provider's status line starts with.
pub const STATUS_MARKER: &str = "Provider status:";
/// The first line of every debug message starts with `<METHOD> ` + the first entry,
/// or with the second.
pub const MARKERS: [&str; 2] = [REQUEST_MARKER, STATUS_MARKER];

/// The debug message in an Envoy log line, when the line starts one: the text from
/// its marker on (`POST Request Sent from LiteLLM:`, `Provider status: …`).
pub fn message_in_log_line(line: &str) -> Option<&str> {
    if let Some(at) = line.find(STATUS_MARKER) {
        return line.get(at..);
    }
    let at = line.find(REQUEST_MARKER)?;
    // Back to the method before the marker.
    let before = line.get(..at)?.trim_end_matches(' ');
    let method_start = before.rfind([' ', ':']).map_or(0, |i| i + 1);
    line.get(method_start..)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_lines_with_a_marker_start_a_message() {
        let envoy = "[2025-01-01 00:00:00.000][12][info][wasm] [source/extensions/common/wasm/context.cc:1195] wasm log switchyard route_0: POST Request Sent from LiteLLM:";
        assert_eq!(
            message_in_log_line(envoy),
            Some("POST Request Sent from LiteLLM:")
        );
        let line =
            "Provider status: 429 for POST http://h/v1 (model group g, deployment d1, attempt 2)";
        let envoy = format!("[x][info][wasm] wasm log a b: {line}");
        assert_eq!(message_in_log_line(&envoy), Some(line));
        assert_eq!(message_in_log_line("[x][warn][main] something"), None);
        assert_eq!(MARKERS, [REQUEST_MARKER, STATUS_MARKER]);
    }
}
