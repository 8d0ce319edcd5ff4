//! Spend: the gateway's reports (`/spend/record`), `/spend/logs` (with LiteLLM's
//! `summarize=true` form) and `/global/spend`.

use super::*;
use crate::store::SpendOutcome;

impl KeyService {
    // ---- spend ------------------------------------------------------------------------

    /// `POST /spend/record` with an array: each row recorded as by
    /// [`KeyService::record_spend`]. A row that is malformed is answered in its place
    /// (and logged) without failing the others; a store error fails the batch, which
    /// the gateway then sends again (rows already recorded come back `duplicate`).
    pub async fn record_spend_batch(&self, body: &[u8], now: i64) -> Result<Value, ApiError> {
        let rows: Vec<Box<serde_json::value::RawValue>> = serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("Invalid request body: {e}")))?;
        let mut results = Vec::with_capacity(rows.len());
        for row in rows {
            match self.record_spend(row.get().as_bytes(), now).await {
                Ok(v) => results.push(v),
                Err(e) if e.status < 500 => {
                    log::warn!("spend report refused: {}", e.message);
                    results.push(json!({"status": "refused", "error": e.message}));
                }
                Err(e) => return Err(e),
            }
        }
        Ok(Value::Array(results))
    }

    /// `POST /spend/record`: one request's spend log row. Adds its spend to the key,
    /// its user and its team and inserts the row, atomically; a second report with the
    /// same `request_id` changes nothing (the gateway's `request_id` is the admission
    /// id, so one admission is charged once). Adds the tokens to the tpm windows (and
    /// releases `lease_id`, which older gateways sent on every report).
    ///
    /// `{"release_lease": id}` in place of a row is the end of a request: its lease —
    /// its parallel-request slot and its continuation mark — is freed.
    pub async fn record_spend(&self, body: &[u8], now: i64) -> Result<Value, ApiError> {
        if let Some(released) = self.release_lease_report(body).await? {
            return Ok(released);
        }
        // The contract's types, strictly (`switchyard_contract::spend`): a field this
        // keyservice does not know is refused, never dropped.
        let req: SpendRecord = parse_body(body)?;
        let row = spend_log_row(&req, now)?;
        let payers = self.spend_payers(&row, now).await?;
        let outcome = self
            .backend
            .store
            .record_spend(&row)
            .await
            .map_err(store_err)?;
        if outcome.inserted {
            self.add_to_tpm_windows(&payers, row.total_tokens, now)
                .await?;
        }
        if let Some(lease) = req.lease_id.as_deref().filter(|l| !l.is_empty()) {
            self.backend
                .limiter
                .release(lease)
                .await
                .map_err(store_err)?;
        }
        if outcome.inserted {
            self.add_to_cached_spend(&row.api_key, &outcome, row.spend);
        }
        log::debug!(
            "spend {}: model_group={:?} spend={} tokens={}",
            if outcome.inserted {
                "recorded"
            } else {
                "already recorded"
            },
            row.model_group,
            row.spend,
            row.total_tokens
        );
        Ok(json!({
            "status": if outcome.inserted { "recorded" } else { "duplicate" },
            "request_id": row.request_id,
        }))
    }

    /// A `{"release_lease": id}` report: frees the lease and answers `released`.
    /// `None` when the body is not one (it is then a spend row).
    async fn release_lease_report(&self, body: &[u8]) -> Result<Option<Value>, ApiError> {
        let Ok(LeaseRelease { release_lease }) = serde_json::from_slice(body) else {
            return Ok(None);
        };
        if release_lease.is_empty() {
            return Ok(None);
        }
        self.backend
            .limiter
            .release(&release_lease)
            .await
            .map_err(store_err)?;
        Ok(Some(json!({"status": "released"})))
    }

    /// The key, user and team a spend row is charged to, with their due budget
    /// resets applied first, so this spend lands in the new period. The user and team
    /// are the row's, else the key's.
    async fn spend_payers(&self, row: &SpendLogRow, now: i64) -> Result<SpendPayers, ApiError> {
        let key = if row.api_key.is_empty() {
            None
        } else {
            // Cached reads (2 s): the reset checks below compare-and-set in the store.
            match self.cached_key(&row.api_key).await.map_err(store_err)? {
                Some(k) => Some(self.reset_key_if_due(k, now).await.map_err(store_err)?),
                None => None,
            }
        };
        let user_id = Some(row.user.clone())
            .filter(|u| !u.is_empty())
            .or_else(|| key.as_ref().and_then(|k| k.user_id.clone()));
        let team_id = row
            .team_id
            .clone()
            .or_else(|| key.as_ref().and_then(|k| k.team_id.clone()));
        let mut user = None;
        if let Some(uid) = &user_id {
            if let Some(u) = self.cached_user(uid).await.map_err(store_err)? {
                user = Some(self.reset_user_if_due(u, now).await.map_err(store_err)?);
            }
        }
        let mut team = None;
        if let Some(tid) = &team_id {
            if let Some(t) = self.cached_team(tid).await.map_err(store_err)? {
                team = Some(self.reset_team_if_due(t, now).await.map_err(store_err)?);
            }
        }
        Ok(SpendPayers { key, user, team })
    }

    /// Adds a newly recorded row's tokens to the tpm windows of the payers that have
    /// a tpm limit.
    async fn add_to_tpm_windows(
        &self,
        payers: &SpendPayers,
        total_tokens: i64,
        now: i64,
    ) -> Result<(), ApiError> {
        if total_tokens <= 0 {
            return Ok(());
        }
        let scopes = payers.tpm_scopes();
        if scopes.is_empty() {
            return Ok(());
        }
        self.backend
            .limiter
            .add_tokens(&scopes, total_tokens, now)
            .await
            .map_err(store_err)
    }

    /// The cached records take the spend the store just added, in place: the next
    /// check sees it without a database read (invalidating here made every check
    /// after a report read the key again).
    fn add_to_cached_spend(&self, api_key: &str, outcome: &SpendOutcome, spend: f64) {
        if !api_key.is_empty() {
            self.keys.update(api_key, |k| k.spend += spend);
        }
        if let Some(u) = &outcome.user_id {
            self.users.update(u, |u| u.spend += spend);
        }
        if let Some(t) = &outcome.team_id {
            self.teams.update(t, |t| t.spend += spend);
        }
    }

    /// `GET /spend/logs`: filters `api_key` (plaintext or hash), `user_id`,
    /// `request_id`, `start_date`, `end_date` (a date-only `end_date` includes that
    /// whole day). With both dates and `summarize` (default true) the answer is
    /// LiteLLM's per-day summary; otherwise the rows, newest first.
    pub async fn spend_logs(&self, q: &BTreeMap<String, String>) -> Result<Value, ApiError> {
        let start_date = non_empty(q, "start_date");
        let end_date = non_empty(q, "end_date");
        let start = match &start_date {
            Some(s) => {
                Some(parse_iso(s).map_err(|m| ApiError::bad_request(m).with_param("start_date"))?)
            }
            None => None,
        };
        let end = match &end_date {
            Some(s) => {
                let t =
                    parse_iso(s).map_err(|m| ApiError::bad_request(m).with_param("end_date"))?;
                Some(if s.trim().len() == 10 { t + DAY_MS } else { t })
            }
            None => None,
        };
        let summarize = query_bool(q, "summarize", true)?;
        let filter = SpendFilter {
            api_key: non_empty(q, "api_key").map(|k| token_for_admin_input(&k)),
            user: non_empty(q, "user_id"),
            request_id: non_empty(q, "request_id"),
            start,
            end,
            limit: MAX_SPEND_LOG_ROWS,
        };
        let rows = self
            .backend
            .store
            .spend_logs(&filter)
            .await
            .map_err(store_err)?;
        if let (Some(start), Some(end), true) = (start, end, summarize) {
            return Ok(summarize_by_day(&rows, start, end));
        }
        Ok(Value::Array(rows.iter().map(spend_log_json).collect()))
    }

    /// `GET /global/spend`: `{"spend", "max_budget"}`.
    pub async fn global_spend(&self) -> Result<Value, ApiError> {
        let spend = self.backend.store.global_spend().await.map_err(store_err)?;
        Ok(json!({ "spend": spend, "max_budget": self.global_max_budget.unwrap_or(0.0) }))
    }
}

/// LiteLLM's `summarize=true` answer: one entry per day from the first day with spend
/// to the last requested day, `{"startTime": date, "spend", "users": {}, "models": {},
/// <api_key>: spend}`.
pub(super) fn summarize_by_day(rows: &[SpendLogRow], start: i64, end: i64) -> Value {
    let mut days: BTreeMap<i64, Map<String, Value>> = BTreeMap::new();
    let add = |m: &mut Map<String, Value>, name: &str, x: f64| {
        let v = m.get(name).and_then(Value::as_f64).unwrap_or(0.0) + x;
        m.insert(name.to_string(), json!(v));
    };
    for r in rows {
        let day = r.start_time.div_euclid(DAY_MS);
        let e = days.entry(day).or_insert_with(|| {
            let mut m = Map::new();
            m.insert("users".into(), json!({}));
            m.insert("models".into(), json!({}));
            m
        });
        add(e, "spend", r.spend);
        add(e, &r.api_key, r.spend);
        if let Some(Value::Object(u)) = e.get_mut("users") {
            add(u, &r.user, r.spend);
        }
        if let Some(Value::Object(m)) = e.get_mut("models") {
            add(m, &r.model, r.spend);
        }
    }
    let mut out = Vec::new();
    let last_day = (end - 1).div_euclid(DAY_MS);
    let mut next_day = None;
    for (day, mut m) in days {
        m.insert("startTime".into(), json!(format_date(day * DAY_MS)));
        out.push(Value::Object(m));
        next_day = Some(day + 1);
    }
    if let Some(mut d) = next_day {
        while d <= last_day && d >= start.div_euclid(DAY_MS) {
            out.push(json!({"startTime": format_date(d * DAY_MS), "spend": 0, "users": {}, "models": {}}));
            d += 1;
        }
    }
    Value::Array(out)
}

/// The key, user and team a spend row is charged to (those with a record).
struct SpendPayers {
    key: Option<KeyRecord>,
    user: Option<UserRecord>,
    team: Option<TeamRecord>,
}

impl SpendPayers {
    /// The limit scopes whose tpm window counts the row's tokens: key, user, team.
    fn tpm_scopes(&self) -> Vec<String> {
        let mut scopes = Vec::new();
        if let Some(k) = self.key.as_ref().filter(|k| k.tpm_limit.is_some()) {
            scopes.push(scope("key", &k.token));
        }
        if let Some(u) = self.user.as_ref().filter(|u| u.tpm_limit.is_some()) {
            scopes.push(scope("user", &u.user_id));
        }
        if let Some(t) = self.team.as_ref().filter(|t| t.tpm_limit.is_some()) {
            scopes.push(scope("team", &t.team_id));
        }
        scopes
    }
}

/// A spend report as the row to store, parsed and bounded: `request_id` required,
/// money and token counts in range, times parsed (end defaults to now, start to the
/// end), the key as its hash, metadata and tags bounded.
fn spend_log_row(req: &SpendRecord, now: i64) -> Result<SpendLogRow, ApiError> {
    let request_id = Some(req.request_id.clone())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::bad_request("request_id is required").with_param("request_id"))?;
    let spend = req.spend;
    check_money("spend", Some(spend))?;
    let prompt = token_count("prompt_tokens", req.prompt_tokens)?;
    let completion = token_count("completion_tokens", req.completion_tokens)?;
    let total = match req.total_tokens {
        Some(total) => token_count("total_tokens", total)?,
        None => prompt.saturating_add(completion),
    };
    let end = time_value("endTime", &req.end_time)?.unwrap_or(now);
    let start = time_value("startTime", &req.start_time)?.unwrap_or(end);
    // Never store a plaintext key: a report may name the key either way.
    let api_key = req
        .api_key
        .as_deref()
        .map(token_for_admin_input)
        .unwrap_or_default();
    let cache_hit = if req.cache_hit.as_ref().is_some_and(CacheHit::is_hit) {
        "True".to_string()
    } else {
        "False".to_string()
    };
    Ok(SpendLogRow {
        request_id,
        call_type: req.call_type.clone(),
        api_key,
        spend,
        prompt_tokens: prompt,
        completion_tokens: completion,
        total_tokens: total,
        start_time: start,
        end_time: end,
        completion_start_time: time_value("completionStartTime", &req.completion_start_time)?,
        model: req.model.clone(),
        model_id: req.model_id.clone(),
        model_group: req.model_group.clone(),
        custom_llm_provider: req.custom_llm_provider.clone(),
        api_base: req.api_base.clone(),
        user: req.user.clone().unwrap_or_default(),
        team_id: req.team_id.clone().filter(|t| !t.is_empty()),
        end_user: req.end_user.clone().unwrap_or_default(),
        // Bounded whoever reports (`switchyard_contract::spend`): a client's huge
        // metadata or tag list never reaches the database.
        metadata: req
            .metadata
            .clone()
            .map_or_else(|| json!({}), spend_bounds::bound_row_metadata),
        cache_hit,
        cache_key: req.cache_key.clone().unwrap_or_default(),
        request_tags: spend_bounds::bound_tags(&req.request_tags),
        status: req.status.clone().unwrap_or_else(|| "success".to_string()),
    })
}
