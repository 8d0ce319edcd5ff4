//! Where a provider error goes next: the request's own `fallbacks` or the
//! config's context-window and content-policy chains (an internal redirect).

use super::*;

impl UpstreamExchange {
    /// Where an error goes next when it has an error fallback left: the request's
    /// own `fallbacks` ([`Self::request_fallback_step`]), or a context-window or
    /// content-policy error whose chain (of the group the client asked for) has
    /// another group.
    pub(super) fn error_fallback_location(
        &self,
        up: &Upstream,
        status: u16,
        body: &[u8],
    ) -> Option<String> {
        let class = providers::classify_error(status, body);
        let facts = self.facts.as_ref()?;
        if let Some((origin, step)) = self.request_fallback_step(up, facts, status, class) {
            return Some(self.fallback_location(facts, ErrorKind::Request, origin, step));
        }
        let kind = class?;
        let (origin, step) = match &facts.error_fallback {
            Some(f) if f.kind == kind => (f.origin.as_str(), f.step + 1),
            Some(f) => (f.origin.as_str(), 0),
            None => (up.group.as_str(), 0),
        };
        let chain = up.error_fallbacks.get(origin)?.chain(kind);
        if chain.len() <= step as usize {
            return None;
        }
        Some(self.fallback_location(facts, kind, origin, step))
    }

    /// The internal redirect to `step` of the `kind` chain of group `origin`.
    pub(super) fn fallback_location(
        &self,
        facts: &RouteFacts,
        kind: ErrorKind,
        origin: &str,
        step: u32,
    ) -> String {
        format!(
            "{}://switchyard.internal{FALLBACK_PATH_PREFIX}{}/{step}/{}/v1/{}",
            self.scheme,
            kind.as_str(),
            providers::openai::percent_encode_segment(origin),
            facts.api.path(facts.endpoint)
        )
    }

    /// The next step of the request's own `fallbacks` for this provider error, when
    /// it moves on (LiteLLM's `async_function_with_fallbacks`): every error but a
    /// plain 400 (one the provider says is the request's fault), once Envoy will
    /// not retry it on this group (the group's last attempt, or a status Envoy does
    /// not retry); a context-window or content-policy error goes to the config's
    /// chain instead when the request used LiteLLM's mapping form and the group has
    /// one. Not while the request is in a config error chain.
    pub(super) fn request_fallback_step<'f>(
        &self,
        up: &'f Upstream,
        facts: &'f RouteFacts,
        status: u16,
        class: Option<ErrorKind>,
    ) -> Option<(&'f str, u32)> {
        let chain = facts.request_fallbacks.as_ref()?;
        let (origin, step) = match &facts.error_fallback {
            None => (up.group.as_str(), 0),
            Some(f) if f.kind == ErrorKind::Request => {
                (f.origin.as_str(), f.step.saturating_add(1))
            }
            Some(_) => return None,
        };
        if step >= chain.len || (status == 400 && class.is_none()) {
            return None;
        }
        if let Some(kind) = class.filter(|_| !chain.from_list) {
            let config_chain = up.error_fallbacks.get(origin).map(|f| f.chain(kind));
            if config_chain.is_some_and(|c| !c.is_empty()) {
                return None;
            }
        }
        if self.attempt < chain.attempts && chain.retries.retries_status(status) {
            return None; // Envoy tries this group again
        }
        Some((origin, step))
    }
}
