//! Whether virtual keys are on, and where the keyservice finds its secrets: the master
//! key and the database, from `general_settings` or LiteLLM's variables, and the
//! gateway's reporting credential when there is no master key.

use super::Compiler;

/// LiteLLM's variable for the master key when the config has no `master_key`.
pub const MASTER_KEY_VARIABLE: &str = "LITELLM_MASTER_KEY";
/// The variable that holds the gateway's reporting credential, read by both Envoy (the
/// filter's spend reports carry it) and the keyservice (which refuses reports without
/// it or the master key): the credential of a config with a database and no master key.
/// `switchyard up` sets it to a random secret of its own for each run.
pub const REPORTER_KEY_VARIABLE: &str = "SWITCHYARD_REPORTER_KEY";

/// LiteLLM's variable for the database when the config has no `database_url`.
pub const DATABASE_URL_VARIABLE: &str = "DATABASE_URL";

/// How the keyservice runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeysPlan {
    /// `general_settings.master_key`, else `LITELLM_MASTER_KEY`.
    pub master_key: Option<String>,
    /// Where the master key comes from, as the filter must read it: the variable the
    /// config names (`os.environ/NAME`), `LITELLM_MASTER_KEY` when only the
    /// environment has it, or `None` for a key written in the file (the rendered
    /// config then carries it, as it carries other literal secrets).
    pub master_key_env: Option<String>,
    /// `general_settings.database_url`, else `DATABASE_URL` (else SQLite).
    pub database_url: Option<String>,
    /// Where the gateway's spend reports find their credential when there is no master
    /// key ([`REPORTER_KEY_VARIABLE`]); `None` when they carry the master key.
    pub reporter_key_env: Option<String>,
}

impl Compiler<'_> {
    /// Virtual keys are on when a master key or a database is configured, as in
    /// LiteLLM; a master key written in the file and an open gateway are warned about.
    pub(super) fn keys_plan(&mut self) -> Option<KeysPlan> {
        let config = self.config;
        let lookup = self.lookup;
        let (master_key, master_key_env) = match &config.general_settings.master_key {
            Some(key) => (
                Some(key.clone()),
                config.general_settings.master_key_env.clone(),
            ),
            None => (
                lookup(MASTER_KEY_VARIABLE),
                Some(MASTER_KEY_VARIABLE.to_string()),
            ),
        };
        let master_key = master_key.filter(|k| !k.is_empty());
        let master_key_env = master_key_env.filter(|_| master_key.is_some());
        let database_url = config
            .general_settings
            .database_url
            .clone()
            .or_else(|| lookup(DATABASE_URL_VARIABLE))
            .filter(|u| !u.is_empty());
        if master_key.is_some() && master_key_env.is_none() {
            self.warnings.push(
                "general_settings.master_key: the key is written in the config file and will be copied into the rendered Envoy config (spend reports carry it); prefer os.environ/NAME"
                    .to_string(),
            );
        }
        let reporter_key_env = master_key
            .is_none()
            .then(|| REPORTER_KEY_VARIABLE.to_string());
        let keys = (master_key.is_some() || database_url.is_some()).then_some(KeysPlan {
            master_key,
            master_key_env,
            database_url,
            reporter_key_env,
        });
        if keys.is_none() {
            self.warnings.push(
                "general_settings: no master_key and no database_url: THE GATEWAY IS OPEN — every request is admitted without a key (as LiteLLM does); set master_key to require keys"
                    .to_string(),
            );
        }
        keys
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::test_support::*;

    #[test]
    fn keys_are_on_with_a_master_key_or_a_database() {
        let plan = compile_text(&one("      model: openai/x\n")).unwrap();
        assert!(
            plan.keys.is_none() && !plan.router.defer_answers,
            "open gateway"
        );
        let text = format!(
            "{}general_settings:\n  master_key: sk-1234\n",
            one("      model: openai/x\n")
        );
        let plan = compile_text(&text).unwrap();
        assert_eq!(
            plan.keys.as_ref().unwrap().master_key.as_deref(),
            Some("sk-1234")
        );
        assert!(
            plan.router.defer_answers,
            "local answers wait for the key check"
        );
        let plan = compile_env(
            &one("      model: openai/x\n"),
            &[("DATABASE_URL", "postgres://db/x")],
        )
        .unwrap();
        assert_eq!(
            plan.keys.unwrap().database_url.as_deref(),
            Some("postgres://db/x")
        );
        // The secret never reaches the serialized plan.
        let json = serde_json::to_string(&compile_text(&text).unwrap()).unwrap();
        assert!(!json.contains("sk-1234"), "{json}");
    }

    #[test]
    fn the_master_key_is_read_where_the_config_put_it() {
        // Written out: no variable (render inlines it), and a warning says so.
        let text = format!(
            "{}general_settings:\n  master_key: sk-1234\n",
            one("      model: openai/x\n")
        );
        let plan = compile_text(&text).unwrap();
        let keys = plan.keys.as_ref().unwrap();
        assert_eq!(keys.master_key_env, None);
        assert!(!plan.host_env_keys.contains(MASTER_KEY_VARIABLE));
        assert!(plan
            .warnings
            .iter()
            .any(|w| w.starts_with("general_settings.master_key: the key is written")));
        // os.environ/NAME: that variable, which the filter must then read.
        let text = format!(
            "{}general_settings:\n  master_key: os.environ/MY_MASTER\n",
            one("      model: openai/x\n")
        );
        let plan = compile_env(&text, &[("MY_MASTER", "sk-env")]).unwrap();
        let keys = plan.keys.as_ref().unwrap();
        assert_eq!(
            (keys.master_key.as_deref(), keys.master_key_env.as_deref()),
            (Some("sk-env"), Some("MY_MASTER"))
        );
        assert!(plan.host_env_keys.contains("MY_MASTER"));
        // Only LITELLM_MASTER_KEY: LiteLLM's variable.
        let plan = compile_env(
            &one("      model: openai/x\n"),
            &[("LITELLM_MASTER_KEY", "sk-var")],
        )
        .unwrap();
        let keys = plan.keys.as_ref().unwrap();
        assert_eq!(
            (keys.master_key.as_deref(), keys.master_key_env.as_deref()),
            (Some("sk-var"), Some(MASTER_KEY_VARIABLE))
        );
        assert!(plan.host_env_keys.contains(MASTER_KEY_VARIABLE));
        // A database without a master key: the filter reads the reporting credential
        // (spend reports are authenticated in every mode), never a master key.
        let plan = compile_env(
            &one("      model: openai/x\n"),
            &[("DATABASE_URL", "postgres://db/x")],
        )
        .unwrap();
        let keys = plan.keys.as_ref().unwrap();
        assert_eq!(
            (
                keys.master_key_env.as_deref(),
                keys.reporter_key_env.as_deref()
            ),
            (None, Some(REPORTER_KEY_VARIABLE))
        );
        assert!(!plan.host_env_keys.contains(MASTER_KEY_VARIABLE));
        assert!(plan.host_env_keys.contains(REPORTER_KEY_VARIABLE));
    }
}
