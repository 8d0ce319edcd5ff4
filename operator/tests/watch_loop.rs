//! The operator's watch loop against a strict fake API server (`fake_api`) and the
//! real keyservice binary: resources listed and watched, statuses written through the
//! status subresource, events posted, the config rendered to the sink, VirtualKeys
//! generated, updated and deleted in the keyservice, and a 410 Gone after compaction
//! answered by listing again.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod fake_api;

use fake_api::FakeApi;
use serde_json::{json, Value};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use switchyard::render::{RenderOptions, DEFAULT_CA_FILE};
use switchyard_operator::controller::{self, Settings};
use switchyard_operator::keys::KeyApi;
use switchyard_operator::sink::{DirectorySink, CURRENT};

const MASTER: &str = "sk-operator-test-master";

struct Keyservice {
    child: Child,
    port: u16,
}

impl Drop for Keyservice {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn keyservice_bin() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let bin = target.join("debug/switchyard-keyservice");
    assert!(
        bin.exists(),
        "{} is missing: cargo build -p switchyard-keyservice",
        bin.display()
    );
    bin
}

fn start_keyservice(dir: &Path) -> Keyservice {
    let mut child = Command::new(keyservice_bin())
        .args([
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            &format!("sqlite://{}", dir.join("keys.db").display()),
            "--master-key-env",
            "SY_OPERATOR_TEST_MASTER",
        ])
        .env("SY_OPERATOR_TEST_MASTER", MASTER)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(dir.join("keyservice.log")).unwrap())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.starts_with("listening on "), "{line}");
    let port = line.trim().rsplit(':').next().unwrap().parse().unwrap();
    Keyservice { child, port }
}

fn key_info(port: u16, key: &str) -> (u16, Value) {
    let (status, body) = switchyard::up::http_call(
        "127.0.0.1",
        port,
        "GET",
        &format!("/key/info?key={key}"),
        &[("Authorization", &format!("Bearer {MASTER}"))],
        None,
        Duration::from_secs(5),
    )
    .unwrap();
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

/// Polls `check` until it holds (30 s at most), printing the fake server's log if not.
async fn wait_for(api: &FakeApi, what: &str, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        if start.elapsed() > Duration::from_secs(30) {
            let world = api.world.lock().unwrap();
            panic!(
                "timed out waiting for {what}\nrequests:\n{}\nrejected: {:?}",
                world.log.join("\n"),
                world.rejected
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn condition(api: &FakeApi, plural: &str, name: &str, type_: &str) -> Option<Value> {
    let world = api.world.lock().unwrap();
    let object = world
        .objects
        .get(&(plural.to_string(), "gw".to_string(), name.to_string()))?;
    object["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)
        .cloned()
}

fn read_current(dir: &Path) -> String {
    let current = dir.join(CURRENT);
    let Ok(entries) = std::fs::read_dir(&current) else {
        return String::new();
    };
    entries
        .filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_watch_loop_applies_resources_statuses_events_and_keys() {
    let dir = std::env::temp_dir().join(format!("sy-operator-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let ks = start_keyservice(&dir);

    let api = FakeApi::new();
    api.apply(
        "modelgroups",
        "gw",
        "mock",
        json!({"model_name": "mock", "deployments": [{"litellm_params": {"model": "openai/mock", "mock_response": "hi from the operator"}}]}),
    );
    api.apply(
        "modelgroups",
        "gw",
        "bad",
        json!({"model_name": "bad", "deployments": [{"litellm_params": {"model": "openai/x", "api_key": "sk-literal"}}]}),
    );
    api.world.lock().unwrap().secrets.insert(
        ("gw".into(), "keys".into()),
        [("team-a".to_string(), "sk-team-a-from-secret".to_string())].into(),
    );
    api.apply(
        "virtualkeys",
        "gw",
        "team-a",
        json!({"keySecretRef": {"name": "keys", "key": "team-a"}, "models": ["mock"], "max_budget": 5.0, "key_alias": "team-a"}),
    );
    let url = api.start().await;

    let config = kube::Config::new(url.parse().unwrap());
    let client = kube::Client::try_from(config).unwrap();
    let out = dir.join("out");
    let settings = Settings {
        namespace: Some("gw".into()),
        sink: Box::new(DirectorySink {
            dir: out.clone(),
            options: RenderOptions {
                wasm: "/x.wasm".into(),
                host: "0.0.0.0".into(),
                port: 4000,
                admin_port: 9901,
                ca_file: DEFAULT_CA_FILE.into(),
                keyservice: Some(format!("127.0.0.1:{}", ks.port)),
                keyservice_ca: None,
            },
        }),
        keys: Some(KeyApi::parse(&format!("127.0.0.1:{}", ks.port), MASTER.into()).unwrap()),
        base: None,
    };
    let loop_task = tokio::spawn(controller::run(client, settings));

    // 1. The initial list: the valid group is rendered, the bad one refused with a
    //    status and a Warning event, the key generated in the keyservice.
    wait_for(&api, "the rendered config", || {
        read_current(&out).contains("hi from the operator")
    })
    .await;
    wait_for(&api, "bad's Invalid condition", || {
        condition(&api, "modelgroups", "bad", "Invalid").is_some_and(|c| c["status"] == "True")
    })
    .await;
    let invalid = condition(&api, "modelgroups", "bad", "Invalid").unwrap();
    assert_eq!(invalid["reason"], "InvalidSpec");
    assert!(
        invalid["message"].as_str().unwrap().starts_with(
            "spec.deployments[0].litellm_params.api_key: a literal key is not allowed"
        ),
        "{invalid}"
    );
    assert_eq!(
        condition(&api, "modelgroups", "mock", "Ready").unwrap()["status"],
        "True"
    );
    wait_for(&api, "the Warning event", || {
        api.world.lock().unwrap().events.iter().any(|e| {
            e["type"] == "Warning"
                && e["reason"] == "InvalidSpec"
                && e["regarding"]["name"] == "bad"
        })
    })
    .await;
    assert!(
        !read_current(&out).contains("\"bad\""),
        "the bad group is not rendered"
    );
    let sources: Value = serde_json::from_str(
        &std::fs::read_to_string(out.join(CURRENT).join("sources.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(sources["ownerReferences"][0]["name"], "mock");
    assert_eq!(sources["ownerReferences"][0]["uid"], "uid-modelgroups-mock");
    wait_for(&api, "the key in the keyservice", || {
        key_info(ks.port, "sk-team-a-from-secret").0 == 200
    })
    .await;
    let (_, info) = key_info(ks.port, "sk-team-a-from-secret");
    assert_eq!(info["info"]["max_budget"], 5.0, "{info}");
    wait_for(&api, "team-a's Ready condition", || {
        condition(&api, "virtualkeys", "team-a", "Ready").is_some_and(|c| c["status"] == "True")
    })
    .await;

    // 2. Watch events: a changed budget is updated, a fixed group becomes Ready.
    api.apply(
        "virtualkeys",
        "gw",
        "team-a",
        json!({"keySecretRef": {"name": "keys", "key": "team-a"}, "max_budget": 9.5, "key_alias": "team-a"}),
    );
    wait_for(&api, "the updated budget", || {
        key_info(ks.port, "sk-team-a-from-secret").1["info"]["max_budget"] == 9.5
    })
    .await;
    // `models` removed from the spec: the key may call every model again.
    assert_eq!(
        key_info(ks.port, "sk-team-a-from-secret").1["info"]["models"],
        json!([])
    );
    api.apply(
        "modelgroups",
        "gw",
        "bad",
        json!({"model_name": "fixed", "deployments": [{"litellm_params": {"model": "openai/mock", "mock_response": "fixed now"}}]}),
    );
    wait_for(&api, "the fixed group rendered", || {
        read_current(&out).contains("fixed now")
    })
    .await;
    wait_for(&api, "bad's Ready condition", || {
        condition(&api, "modelgroups", "bad", "Ready")
            .is_some_and(|c| c["status"] == "True" && c["observedGeneration"] == 2)
    })
    .await;

    // 3. Compaction: a group is added that no watch is told of, the history is
    //    compacted and the watches end; resuming gets 410 Gone, and only a new list
    //    can find the group.
    let lists_before = api
        .world
        .lock()
        .unwrap()
        .lists
        .get("modelgroups")
        .copied()
        .unwrap_or(0);
    api.apply_then_compact(
        "modelgroups",
        "gw",
        "late",
        json!({"model_name": "late", "deployments": [{"litellm_params": {"model": "openai/mock", "mock_response": "after the 410"}}]}),
    );
    wait_for(&api, "the group added across the 410", || {
        read_current(&out).contains("after the 410")
    })
    .await;
    {
        let world = api.world.lock().unwrap();
        assert!(
            world.gone_served >= 1,
            "no watch resumed from a compacted version"
        );
        assert!(
            world.lists["modelgroups"] > lists_before,
            "no list after the 410"
        );
    }

    // 4. Deleting the VirtualKey deletes the key.
    api.delete("virtualkeys", "gw", "team-a");
    wait_for(&api, "the key deleted", || {
        key_info(ks.port, "sk-team-a-from-secret").0 != 200
    })
    .await;

    loop_task.abort();
    let world = api.world.lock().unwrap();
    assert!(
        world.rejected.is_empty(),
        "the fake API refused: {:?}",
        world.rejected
    );
    assert!(world
        .status_writes
        .iter()
        .all(|(_, _, s)| s["conditions"].is_array()));
    drop(world);
    let _ = std::fs::remove_dir_all(&dir);
}
