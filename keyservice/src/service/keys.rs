//! LiteLLM's key management: `/key/generate`, `/key/update`, `/key/delete`,
//! `/key/info`, `/key/list`, `/key/regenerate`, `/key/block` and `/key/unblock`.

use super::*;

impl KeyService {
    // ---- keys ------------------------------------------------------------------------

    pub(super) async fn alias_taken(
        &self,
        alias: &str,
        except: Option<&str>,
    ) -> Result<bool, ApiError> {
        let owners = self
            .backend
            .store
            .tokens_for_aliases(&[alias.to_string()])
            .await
            .map_err(store_err)?;
        Ok(owners.iter().any(|t| Some(t.as_str()) != except))
    }

    pub(super) fn alias_error(alias: &str) -> ApiError {
        ApiError::bad_request(format!(
            "Unique key aliases across all keys are required. Key alias={alias} already exists."
        ))
        .with_param("key_alias")
    }

    pub(super) async fn create_key(
        &self,
        req: &KeyRequest,
        now: i64,
    ) -> Result<(KeyRecord, String), ApiError> {
        req.validate()?;
        let plaintext = match &req.key {
            Some(k) => {
                validate_custom_key(k).map_err(|m| ApiError::bad_request(m).with_param("key"))?;
                k.clone()
            }
            None => generate_key(),
        };
        if let Some(alias) = &req.key_alias {
            if self.alias_taken(alias, None).await? {
                return Err(Self::alias_error(alias));
            }
        }
        let mut rec = KeyRecord {
            token: hash_key(&plaintext),
            key_name: key_name(&plaintext),
            created_at: now,
            updated_at: now,
            created_by: Some(ADMIN_NAME.to_string()),
            updated_by: Some(ADMIN_NAME.to_string()),
            ..KeyRecord::default()
        };
        req.apply(&mut rec, now)?;
        match self.backend.store.insert_key(&rec).await {
            Ok(()) => {}
            Err(StoreError::Conflict) => {
                return Err(ApiError::bad_request(
                    "A key with this value or alias already exists.",
                ))
            }
            Err(e) => return Err(store_err(e)),
        }
        self.keys.invalidate(&rec.token);
        log::info!(
            "key created: alias={:?} user={:?} team={:?}",
            rec.key_alias,
            rec.user_id,
            rec.team_id
        );
        Ok((rec, plaintext))
    }

    /// `POST /key/generate`.
    pub async fn generate_key(&self, body: &[u8], now: i64) -> Result<Value, ApiError> {
        let req: KeyRequest = parse_body(body)?;
        let (rec, plaintext) = self.create_key(&req, now).await?;
        Ok(generate_response_json(
            &rec,
            &plaintext,
            req.duration.as_deref(),
        ))
    }

    pub(super) async fn existing_key(&self, token: &str) -> Result<KeyRecord, ApiError> {
        self.backend
            .store
            .get_key(token)
            .await
            .map_err(store_err)?
            .ok_or_else(|| ApiError::not_found("Key not found in database").with_param("key"))
    }

    pub(super) async fn save_key(
        &self,
        old_token: &str,
        rec: &KeyRecord,
        set_spend: bool,
    ) -> Result<KeyRecord, ApiError> {
        match self
            .backend
            .store
            .update_key(old_token, rec, set_spend)
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                return Err(ApiError::not_found("Key not found in database").with_param("key"))
            }
            Err(StoreError::Conflict) => {
                return Err(ApiError::bad_request(
                    "A key with this value or alias already exists.",
                ))
            }
            Err(e) => return Err(store_err(e)),
        }
        self.keys.invalidate(old_token);
        self.keys.invalidate(&rec.token);
        self.existing_key(&rec.token).await
    }

    /// `POST /key/update`.
    pub async fn update_key(&self, body: &[u8], now: i64) -> Result<Value, ApiError> {
        let req: KeyRequest = parse_body(body)?;
        let key = req
            .key
            .clone()
            .ok_or_else(|| ApiError::bad_request("key is required").with_param("key"))?;
        req.validate()?;
        let token = token_for_admin_input(&key);
        let mut rec = self.existing_key(&token).await?;
        if let Some(alias) = &req.key_alias {
            if self.alias_taken(alias, Some(&token)).await? {
                return Err(Self::alias_error(alias));
            }
        }
        req.apply(&mut rec, now)?;
        rec.updated_at = now;
        rec.updated_by = Some(ADMIN_NAME.to_string());
        let saved = self.save_key(&token, &rec, req.spend.is_some()).await?;
        log::info!("key updated: alias={:?}", saved.key_alias);
        let mut out = Map::new();
        out.insert("key".into(), json!(key));
        out.extend(key_json(&saved, false));
        Ok(Value::Object(out))
    }

    /// `POST /key/delete`: `{"keys": [...]}` (plaintext or hashes) or
    /// `{"key_aliases": [...]}`. Answers the identifiers that were deleted; 404 when
    /// none of them existed.
    pub async fn delete_keys(&self, body: &[u8]) -> Result<Value, ApiError> {
        #[derive(Default, Deserialize)]
        #[serde(default)]
        struct DeleteRequest {
            keys: Option<Vec<String>>,
            key_aliases: Option<Vec<String>>,
        }
        let req: DeleteRequest = parse_body(body)?;
        let store = &self.backend.store;
        let deleted: Vec<String> = match (req.keys, req.key_aliases) {
            (Some(keys), _) if !keys.is_empty() => {
                let tokens: Vec<String> = keys.iter().map(|k| token_for_admin_input(k)).collect();
                let gone = store.delete_keys(&tokens).await.map_err(store_err)?;
                for t in &gone {
                    self.keys.invalidate(t);
                }
                keys.into_iter()
                    .zip(tokens)
                    .filter(|(_, t)| gone.contains(t))
                    .map(|(k, _)| k)
                    .collect()
            }
            (_, Some(aliases)) if !aliases.is_empty() => {
                let mut done = Vec::new();
                for alias in aliases {
                    let tokens = store
                        .tokens_for_aliases(std::slice::from_ref(&alias))
                        .await
                        .map_err(store_err)?;
                    let gone = store.delete_keys(&tokens).await.map_err(store_err)?;
                    for t in &gone {
                        self.keys.invalidate(t);
                    }
                    if !gone.is_empty() {
                        done.push(alias);
                    }
                }
                done
            }
            _ => {
                return Err(
                    ApiError::bad_request("Pass keys or key_aliases to delete.").with_param("keys")
                )
            }
        };
        if deleted.is_empty() {
            return Err(ApiError::not_found("No matching keys found to delete.").with_param("keys"));
        }
        log::info!("{} key(s) deleted", deleted.len());
        Ok(json!({ "deleted_keys": deleted }))
    }

    /// `GET /key/info?key=` (plaintext or hash).
    pub async fn key_info(
        &self,
        q: &BTreeMap<String, String>,
        now: i64,
    ) -> Result<Value, ApiError> {
        let key = non_empty(q, "key")
            .ok_or_else(|| ApiError::bad_request("key is required").with_param("key"))?;
        let rec = self.existing_key(&token_for_admin_input(&key)).await?;
        let rec = self.reset_key_if_due(rec, now).await.map_err(store_err)?;
        Ok(json!({ "key": key, "info": Value::Object(key_json(&rec, false)) }))
    }

    /// `GET /key/list`.
    pub async fn list_keys(&self, q: &BTreeMap<String, String>) -> Result<Value, ApiError> {
        let page = query_int(q, "page", 1)?;
        let size = query_int(q, "size", 10)?;
        if page < 1 {
            return Err(ApiError::bad_request("page must be >= 1").with_param("page"));
        }
        if !(1..=100).contains(&size) {
            return Err(ApiError::bad_request("size must be between 1 and 100").with_param("size"));
        }
        let full = query_bool(q, "return_full_object", false)?;
        let filter = KeyFilter {
            user_id: non_empty(q, "user_id"),
            team_id: non_empty(q, "team_id"),
            key_alias: non_empty(q, "key_alias"),
        };
        let (keys, total) = self
            .backend
            .store
            .list_keys(&filter, (page - 1) * size, size)
            .await
            .map_err(store_err)?;
        let listed: Vec<Value> = keys
            .iter()
            .map(|k| {
                if full {
                    Value::Object(key_json(k, true))
                } else {
                    json!(k.token)
                }
            })
            .collect();
        Ok(json!({
            "keys": listed,
            "total_count": total,
            "current_page": page,
            "total_pages": (total + size - 1) / size,
        }))
    }

    /// `POST /key/regenerate` (key in the body) and `POST /key/{key}/regenerate`: a new
    /// plaintext key for the same row (optionally `new_key`, and field updates). The
    /// old key stops working at once here and within the cache TTL elsewhere.
    pub async fn regenerate_key(
        &self,
        path_key: Option<&str>,
        body: &[u8],
        now: i64,
    ) -> Result<Value, ApiError> {
        let req: KeyRequest = parse_body(body)?;
        let key = path_key
            .map(str::to_string)
            .or_else(|| req.key.clone())
            .ok_or_else(|| ApiError::bad_request("key is required").with_param("key"))?;
        req.validate()?;
        let old_token = token_for_admin_input(&key);
        let mut rec = self.existing_key(&old_token).await?;
        let plaintext = match &req.new_key {
            Some(k) => {
                validate_custom_key(k)
                    .map_err(|m| ApiError::bad_request(m).with_param("new_key"))?;
                k.clone()
            }
            None => generate_key(),
        };
        if let Some(alias) = &req.key_alias {
            if self.alias_taken(alias, Some(&old_token)).await? {
                return Err(Self::alias_error(alias));
            }
        }
        req.apply(&mut rec, now)?;
        rec.token = hash_key(&plaintext);
        rec.key_name = key_name(&plaintext);
        rec.updated_at = now;
        rec.updated_by = Some(ADMIN_NAME.to_string());
        let saved = self.save_key(&old_token, &rec, req.spend.is_some()).await?;
        log::info!("key regenerated: alias={:?}", saved.key_alias);
        Ok(generate_response_json(&saved, &plaintext, None))
    }

    /// `POST /key/block` and `/key/unblock`.
    pub async fn set_blocked(
        &self,
        body: &[u8],
        blocked: bool,
        now: i64,
    ) -> Result<Value, ApiError> {
        #[derive(Default, Deserialize)]
        #[serde(default)]
        struct BlockRequest {
            key: Option<String>,
        }
        let req: BlockRequest = parse_body(body)?;
        let key = req
            .key
            .ok_or_else(|| ApiError::bad_request("key is required").with_param("key"))?;
        let token = token_for_admin_input(&key);
        let mut rec = self.existing_key(&token).await?;
        rec.blocked = blocked;
        rec.updated_at = now;
        rec.updated_by = Some(ADMIN_NAME.to_string());
        let saved = self.save_key(&token, &rec, false).await?;
        log::info!(
            "key {}: alias={:?}",
            if blocked { "blocked" } else { "unblocked" },
            saved.key_alias
        );
        Ok(Value::Object(key_json(&saved, true)))
    }
}
