//! The admission check with its lookups: key, user and team budgets, models,
//! aliases and the rate and parallel limits (`/check`, through Envoy's ext_authz).

use super::*;

impl KeyService {
    // ---- the check --------------------------------------------------------------------

    /// Decides one request: lookups (cached), lazy budget resets, the pure check, and
    /// the atomic taking of its rate limits. A store failure is an error (the caller
    /// answers 503: fail closed).
    ///
    /// Every admission gets an admission id ([`crate::limits`]). `continuing` is the
    /// admission id an internal redirect's replay carries: when its lease is live on
    /// every limit scope of this same key, the replay is the same request going on —
    /// checked again (key, models, budgets) but counted nothing again, and it keeps
    /// the id. Anything else (an unknown, expired or released id, another key's, a
    /// key without limits) is an ordinary new admission with a new id.
    pub async fn authorize(
        &self,
        presented: &PresentedKey,
        model: Option<&str>,
        requested_model: Option<&str>,
        fallbacks: &[String],
        continuing: Option<&str>,
        now: i64,
    ) -> Result<Decision, StoreError> {
        let decision = self
            .authorize_limits(
                presented,
                model,
                requested_model,
                fallbacks,
                continuing,
                now,
                true,
            )
            .await?;
        Ok(match decision {
            Decision::Allow(mut allowed) => {
                allowed.admission = Some(
                    allowed
                        .lease
                        .clone()
                        .unwrap_or_else(crate::keys::random_uuid),
                );
                Decision::Allow(allowed)
            }
            deny => deny,
        })
    }

    /// Decides a request that only reads the gateway's state (`GET /metrics`): the key
    /// is checked as for any request (known, usable, within its budgets), but no rate
    /// or parallel limit is taken or judged, and no admission id given: LiteLLM's
    /// limiter runs for LLM calls only, so a Prometheus scraping with a limited key
    /// never eats its requests per minute.
    pub async fn authorize_read(
        &self,
        presented: &PresentedKey,
        now: i64,
    ) -> Result<Decision, StoreError> {
        self.authorize_limits(presented, None, None, &[], None, now, false)
            .await
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) async fn authorize_limits(
        &self,
        presented: &PresentedKey,
        model: Option<&str>,
        requested_model: Option<&str>,
        fallbacks: &[String],
        continuing: Option<&str>,
        now: i64,
        takes_limits: bool,
    ) -> Result<Decision, StoreError> {
        let input = CheckInput {
            presented_key: presented,
            model,
            requested_model,
            fallbacks,
            now,
        };
        let lookup = match presented {
            PresentedKey::Key(k) if !self.policy.open && !self.is_master(presented) => {
                Some(hash_key(k))
            }
            _ => None,
        };
        let Some(token) = lookup else {
            return Ok(check(&input, &self.policy, &Subject::default()));
        };
        let key = match self.cached_key(&token).await? {
            Some(k) => Some(self.reset_key_if_due(k, now).await?),
            None => None,
        };
        let mut user = None;
        let mut team = None;
        if let Some(k) = &key {
            if let Some(uid) = &k.user_id {
                if let Some(u) = self.cached_user(uid).await? {
                    user = Some(self.reset_user_if_due(u, now).await?);
                }
            }
            if let Some(tid) = &k.team_id {
                if let Some(t) = self.cached_team(tid).await? {
                    team = Some(self.reset_team_if_due(t, now).await?);
                }
            }
        }
        let mut subject = Subject {
            key: key.as_ref(),
            user: user.as_ref(),
            team: team.as_ref(),
            usage: Vec::new(),
        };
        let mut continues = None;
        if let Some(k) = key.as_ref().filter(|_| takes_limits) {
            let claims = limit_claims(k, user.as_ref(), team.as_ref());
            if !claims.is_empty() {
                let scopes: Vec<String> = claims.iter().map(|c| c.scope.clone()).collect();
                // A replay of an admitted request: its own slot and count are already
                // in the usage, so it is not judged on them again.
                if let Some(id) = continuing.filter(|id| !id.is_empty()) {
                    if self.backend.limiter.continues(id, &scopes, now).await? {
                        continues = Some(id.to_string());
                    }
                }
                if continues.is_none() {
                    subject.usage = self.backend.limiter.usage(&scopes, now).await?;
                }
            }
        }
        let decision = check(&input, &self.policy, &subject);
        let Decision::Allow(mut allowed) = decision else {
            return Ok(decision);
        };
        if !takes_limits {
            // Nothing taken, and no limit headers that would read as if it were.
            allowed.claims.clear();
            allowed
                .response_headers
                .retain(|(name, _)| !name.starts_with("x-ratelimit"));
            return Ok(Decision::Allow(allowed));
        }
        if allowed.claims.is_empty() {
            return Ok(Decision::Allow(allowed));
        }
        if let Some(id) = continues {
            allowed.lease = Some(id);
            return Ok(Decision::Allow(allowed));
        }
        match self
            .backend
            .limiter
            .acquire(&allowed.claims, now, self.lease_ttl_ms)
            .await?
        {
            Acquired::Granted { lease } => {
                allowed.lease = lease;
                Ok(Decision::Allow(allowed))
            }
            Acquired::Limited { index, kind, limit } => Ok(Decision::Deny(rate_limited(
                allowed.claims.get(index).map_or("", |claim| &claim.scope),
                kind,
                limit,
                now,
            ))),
        }
    }
}
