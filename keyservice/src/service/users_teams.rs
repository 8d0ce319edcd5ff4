//! LiteLLM's user and team management: `/user/new`, `/user/info`, `/team/new`,
//! `/team/info`.

use super::*;

impl KeyService {
    // ---- users and teams ------------------------------------------------------------

    /// `POST /user/new` (creates a key for the user unless `auto_create_key` is false).
    pub async fn new_user(&self, body: &[u8], now: i64) -> Result<Value, ApiError> {
        let req: UserRequest = parse_body(body)?;
        check_money("max_budget", req.max_budget)?;
        check_limit("tpm_limit", req.tpm_limit)?;
        check_limit("rpm_limit", req.rpm_limit)?;
        check_limit("max_parallel_requests", req.max_parallel_requests)?;
        let budget_reset_at = match &req.budget_duration {
            Some(d) => Some(
                next_reset_for(d, now)
                    .map_err(|m| ApiError::bad_request(m).with_param("budget_duration"))?,
            ),
            None => None,
        };
        if let Some(d) = &req.duration {
            parse_duration_field("duration", d)?;
        }
        let user = UserRecord {
            user_id: req.user_id.clone().unwrap_or_else(random_uuid),
            user_alias: req.user_alias.clone(),
            user_email: req.user_email.clone(),
            user_role: Some(
                req.user_role
                    .clone()
                    .unwrap_or_else(|| "internal_user".to_string()),
            ),
            teams: req.teams.clone().unwrap_or_default(),
            models: req.models.clone().unwrap_or_default(),
            max_budget: req.max_budget,
            budget_duration: req.budget_duration.clone(),
            budget_reset_at,
            spend: 0.0,
            rpm_limit: req.rpm_limit,
            tpm_limit: req.tpm_limit,
            max_parallel_requests: req.max_parallel_requests,
            metadata: req.metadata.clone().unwrap_or_default(),
            created_at: now,
            updated_at: now,
        };
        match self.backend.store.insert_user(&user).await {
            Ok(()) => {}
            Err(StoreError::Conflict) => {
                return Err(ApiError::bad_request(format!(
                    "User with id {} already exists.",
                    user.user_id
                ))
                .with_param("user_id"))
            }
            Err(e) => return Err(store_err(e)),
        }
        self.users.invalidate(&user.user_id);
        log::info!("user created: {}", user.user_id);
        let mut out = Map::new();
        if req.auto_create_key {
            // LiteLLM's user key: the user's models and limits, the user's budget on the
            // user row (not on the key).
            let key_req = KeyRequest {
                models: Some(user.models.clone()),
                aliases: req.aliases.clone(),
                duration: req.duration.clone(),
                key_alias: req.key_alias.clone(),
                rpm_limit: user.rpm_limit,
                tpm_limit: user.tpm_limit,
                max_parallel_requests: user.max_parallel_requests,
                user_id: Some(user.user_id.clone()),
                ..KeyRequest::default()
            };
            let (rec, plaintext) = self.create_key(&key_req, now).await?;
            if let Value::Object(m) =
                generate_response_json(&rec, &plaintext, req.duration.as_deref())
            {
                out.extend(m);
            }
        } else {
            out.insert("key".into(), Value::Null);
        }
        out.extend(user_json(&user));
        Ok(Value::Object(out))
    }

    /// The keys of a user or team, as `/user/info` and `/team/info` list them.
    pub(super) async fn keys_json(&self, entity: Entity, id: &str) -> Result<Vec<Value>, ApiError> {
        let keys = self
            .backend
            .store
            .keys_of(entity, id)
            .await
            .map_err(store_err)?;
        Ok(keys
            .iter()
            .map(|k| Value::Object(key_json(k, true)))
            .collect())
    }

    /// `GET /user/info?user_id=`.
    pub async fn user_info(
        &self,
        q: &BTreeMap<String, String>,
        now: i64,
    ) -> Result<Value, ApiError> {
        let id = non_empty(q, "user_id")
            .ok_or_else(|| ApiError::bad_request("user_id is required").with_param("user_id"))?;
        let user = self
            .backend
            .store
            .get_user(&id)
            .await
            .map_err(store_err)?
            .ok_or_else(|| {
                ApiError::not_found(format!("User {id} not found")).with_param("user_id")
            })?;
        let user = self.reset_user_if_due(user, now).await.map_err(store_err)?;
        let keys = self.keys_json(Entity::User, &id).await?;
        Ok(
            json!({ "user_id": id, "user_info": Value::Object(user_json(&user)), "keys": keys, "teams": user.teams }),
        )
    }

    /// `POST /team/new`.
    pub async fn new_team(&self, body: &[u8], now: i64) -> Result<Value, ApiError> {
        let req: TeamRequest = parse_body(body)?;
        check_money("max_budget", req.max_budget)?;
        check_limit("tpm_limit", req.tpm_limit)?;
        check_limit("rpm_limit", req.rpm_limit)?;
        check_limit("max_parallel_requests", req.max_parallel_requests)?;
        let budget_reset_at = match &req.budget_duration {
            Some(d) => Some(
                next_reset_for(d, now)
                    .map_err(|m| ApiError::bad_request(m).with_param("budget_duration"))?,
            ),
            None => None,
        };
        let members = req.members_with_roles.clone().unwrap_or_else(|| json!([]));
        if !members.is_array() {
            return Err(ApiError::bad_request("members_with_roles must be a list")
                .with_param("members_with_roles"));
        }
        let team = TeamRecord {
            team_id: req.team_id.clone().unwrap_or_else(random_uuid),
            team_alias: req.team_alias.clone(),
            models: req.models.clone().unwrap_or_default(),
            members_with_roles: members,
            max_budget: req.max_budget,
            budget_duration: req.budget_duration.clone(),
            budget_reset_at,
            spend: 0.0,
            rpm_limit: req.rpm_limit,
            tpm_limit: req.tpm_limit,
            max_parallel_requests: req.max_parallel_requests,
            metadata: req.metadata.clone().unwrap_or_default(),
            blocked: req.blocked.unwrap_or(false),
            created_at: now,
            updated_at: now,
        };
        match self.backend.store.insert_team(&team).await {
            Ok(()) => {}
            Err(StoreError::Conflict) => {
                return Err(ApiError::bad_request(format!(
                    "Team id = {} already exists. Please use a different team id.",
                    team.team_id
                ))
                .with_param("team_id"))
            }
            Err(e) => return Err(store_err(e)),
        }
        self.teams.invalidate(&team.team_id);
        log::info!("team created: {}", team.team_id);
        Ok(Value::Object(team_json(&team)))
    }

    /// `GET /team/info?team_id=`.
    pub async fn team_info(
        &self,
        q: &BTreeMap<String, String>,
        now: i64,
    ) -> Result<Value, ApiError> {
        let id = non_empty(q, "team_id")
            .ok_or_else(|| ApiError::bad_request("team_id is required").with_param("team_id"))?;
        let team = self
            .backend
            .store
            .get_team(&id)
            .await
            .map_err(store_err)?
            .ok_or_else(|| {
                ApiError::not_found(format!("Team {id} not found")).with_param("team_id")
            })?;
        let team = self.reset_team_if_due(team, now).await.map_err(store_err)?;
        let keys = self.keys_json(Entity::Team, &id).await?;
        Ok(json!({ "team_id": id, "team_info": Value::Object(team_json(&team)), "keys": keys }))
    }
}
