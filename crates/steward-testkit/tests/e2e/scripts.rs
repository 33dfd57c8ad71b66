//! Remote scripts end to end: real agents over HTTP run a library script only where their
//! own configuration allows it, and only as an order the server signed for them; an order
//! written straight into the database (content changed, or signed with another key) runs
//! nowhere; roles without the right are refused; a timeout stops the script; a device
//! offline when the run is queued runs it when it returns, unless the run expired first.

use std::time::Duration;

use serde_json::{Value, json};
use steward_agent::scripts::{RunScriptExecutor, ScriptPolicy};
use steward_core::{JobKind, JobState, Role};
use steward_testkit::agent::{ScriptedCollector, TestAgent, sample_inventory};
use steward_testkit::{TestServer, eventually};

const WAIT: Duration = Duration::from_secs(60);

async fn agent(server: &TestServer, name: &str, allow: bool) -> TestAgent {
    let token = server.enroll_token(1).await;
    let agent = TestAgent::enroll(
        &server.url,
        &token,
        ScriptedCollector::new(sample_inventory(name, 2)),
    )
    .await
    .unwrap();
    if allow {
        ScriptPolicy {
            allow_scripts: true,
        }
        .save(agent.state_dir())
        .unwrap();
    }
    agent
}

fn start(agent: &mut TestAgent) {
    agent.start_with(Duration::from_secs(1), |c| {
        c.executors
            .register(RunScriptExecutor::new().with_kill_grace(Duration::from_millis(200)));
    });
}

async fn batch(server: &TestServer, api: &str, id: &str) -> Value {
    let (status, body) = server.api_get(api, &format!("/api/v1/batches/{id}")).await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn finished(server: &TestServer, api: &str, id: &str) -> Value {
    eventually(WAIT, "the batch finished", || async {
        let b = batch(server, api, id).await;
        let p = &b["batch"]["progress"];
        (p["queued"] == 0 && p["offline"] == 0 && p["running"] == 0).then_some(b)
    })
    .await
}

/// Waits until the server knows whether each device allows scripts.
async fn capabilities_known(server: &TestServer, api: &str, allowed: usize) {
    eventually(
        WAIT,
        "the agents' script settings reached the server",
        || async {
            let (_, body) = server.api_get(api, "/api/v1/updates").await;
            let n = body["devices"]
                .as_array()?
                .iter()
                .filter(|d| d["scripts_allowed"] == true)
                .count();
            (n == allowed).then_some(())
        },
    )
    .await;
}

async fn add_script(server: &TestServer, api: &str, content: &str) -> Value {
    let (status, script) = server
        .api_post(
            api,
            "/api/v1/scripts",
            json!({
                "name": "Write a word",
                "platform": "linux",
                "interpreter": "sh",
                "params": [
                    {"name": "word", "kind": {"choice": ["hello", "bye"]}, "required": true},
                    {"name": "out", "kind": "text", "required": true}
                ],
                "content": content,
            }),
        )
        .await;
    assert_eq!(status, 201, "{script}");
    script
}

#[tokio::test]
async fn a_script_runs_only_where_the_device_allows_it_and_only_as_the_server_signed_it() {
    let server = TestServer::sqlite().await;
    let api = server.api_token().await;
    let mut allowing = agent(&server, "allows", true).await;
    let mut refusing = agent(&server, "refuses", false).await;
    start(&mut allowing);
    start(&mut refusing);
    capabilities_known(&server, &api, 1).await;

    let out = tempfile::tempdir().unwrap();
    let marker = out.path().join("word");
    let script = add_script(
        &server,
        &api,
        "echo \"$STEWARD_PARAM_WORD\" > \"$STEWARD_PARAM_OUT\"\necho done\n",
    )
    .await;
    let id = script["id"].as_str().unwrap();
    assert_eq!(script["version"], 1);

    // A bad parameter is refused before anything is sent.
    let (status, body) = server
        .api_post(
            &api,
            &format!("/api/v1/scripts/{id}/runs"),
            json!({"target": "all", "params": {"word": "other", "out": "x"}}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["message"].as_str().unwrap().contains("word"), "{body}");

    // On every device: the one that allows scripts runs it; the other is named as skipped.
    let (status, sent) = server
        .api_post(
            &api,
            &format!("/api/v1/scripts/{id}/runs"),
            json!({"target": "all", "params": {"word": "hello", "out": marker.to_str().unwrap()}}),
        )
        .await;
    assert_eq!(status, 202, "{sent}");
    assert_eq!(sent["progress"]["total"], 1);
    assert_eq!(sent["skipped"][0]["device_id"], refusing.device_id.as_str());
    assert!(
        sent["skipped"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("does not allow scripts"),
        "{sent}"
    );
    let done = finished(&server, &api, sent["id"].as_str().unwrap()).await;
    assert_eq!(done["batch"]["progress"]["succeeded"], 1, "{done}");
    assert_eq!(done["jobs"][0]["device_id"], allowing.device_id.as_str());
    assert_eq!(std::fs::read_to_string(&marker).unwrap(), "hello\n");

    // Aimed at the refusing device alone: nothing to send, and the answer says why.
    let (status, body) = server
        .api_post(
            &api,
            &format!("/api/v1/scripts/{id}/runs"),
            json!({"target": format!("device:{}", refusing.device_id),
                   "params": {"word": "bye", "out": marker.to_str().unwrap()}}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("does not allow scripts"),
        "{body}"
    );

    // Orders written into the database by someone else: the signed order of the run above
    // with other content, and one signed with a key the agent never pinned.
    let job_id = done["jobs"][0]["job_id"].as_str().unwrap();
    let real = server.store.job(job_id).await.unwrap().unwrap();
    let forged_marker = out.path().join("forged");
    let mut changed = real.params.clone();
    changed["content"] = json!(format!("touch {}\n", forged_marker.display()));
    let other_key = ring::signature::Ed25519KeyPair::from_seed_unchecked(&[9; 32]).unwrap();
    let mut resigned: steward_proto::agent::RunScriptParams =
        serde_json::from_value(real.params.clone()).unwrap();
    resigned.content = format!("touch {}\n", forged_marker.display());
    resigned.order.content_sha256 = steward_core::scripts::content_hash(&resigned.content);
    let forged_jobs = [changed, serde_json::to_value(&resigned).unwrap()];
    let mut ids = Vec::new();
    for (i, params) in forged_jobs.into_iter().enumerate() {
        let mut job = steward_server::devices::new_job(
            &allowing.device_id,
            JobKind::RunScript,
            "someone with the database",
            server.now(),
        );
        let mut params: steward_proto::agent::RunScriptParams =
            serde_json::from_value(params).unwrap();
        params.order.job_id = job.id.clone();
        if i == 1 {
            params.signature = steward_core::scripts::sign(&params.order, &other_key);
        }
        job.params = serde_json::to_value(&params).unwrap();
        server.store.create_job(&job).await.unwrap();
        ids.push(job.id);
    }
    for id in &ids {
        let job = eventually(WAIT, "the forged job was answered", || async {
            let job = server.store.job(id).await.unwrap().unwrap();
            job.state.is_final().then_some(job)
        })
        .await;
        assert_eq!(job.state, JobState::Failed, "{job:?}");
        assert!(job.message.contains("refused, nothing was run"), "{job:?}");
    }
    assert!(!forged_marker.exists(), "a forged order ran");

    // Someone on the refusing device allows scripts: the server knows at its next check-in,
    // without a restart.
    ScriptPolicy {
        allow_scripts: true,
    }
    .save(refusing.state_dir())
    .unwrap();
    capabilities_known(&server, &api, 2).await;

    // Every run is audited with the content's hash.
    let (_, audit) = server
        .api_get(&api, "/api/v1/audit?action=script_run")
        .await;
    let entry = audit.to_string();
    assert!(
        entry.contains(script["content_sha256"].as_str().unwrap()),
        "{entry}"
    );

    allowing.stop().await;
    refusing.stop().await;
}

#[tokio::test]
async fn the_library_is_the_admins_and_runs_follow_roles() {
    let server = TestServer::sqlite().await;
    let admin = server.api_token().await;
    let technician = server.api_token_with(Role::Technician).await;
    let viewer = server.api_token_with(Role::Viewer).await;
    let body = json!({"name": "x", "platform": "linux", "interpreter": "sh", "content": "true\n"});
    for token in [&technician, &viewer] {
        let (status, _) = server
            .api_post(token, "/api/v1/scripts", body.clone())
            .await;
        assert_eq!(status, 403);
    }
    let script = add_script(&server, &admin, "true\n").await;
    let id = script["id"].as_str().unwrap();
    let run = json!({"target": "all", "params": {"word": "hello", "out": "/dev/null"}});
    let (status, _) = server
        .api_post(&viewer, &format!("/api/v1/scripts/{id}/runs"), run.clone())
        .await;
    assert_eq!(status, 403);
    // A technician may run (nothing to run on here: no device allows scripts).
    let (status, body) = server
        .api_post(&technician, &format!("/api/v1/scripts/{id}/runs"), run)
        .await;
    assert_eq!(status, 400, "{body}");

    // Two changes from the same version: the second is refused, not silently lost.
    let change = |content: &str| {
        json!({"expected_version": 1, "script": {
            "name": "Write a word", "platform": "linux", "interpreter": "sh",
            "params": script["params"].clone(), "content": content}})
    };
    let client = reqwest::Client::new();
    let put = |body: Value| {
        client
            .put(format!("{}/api/v1/scripts/{id}", server.url))
            .bearer_auth(&admin)
            .json(&body)
            .send()
    };
    assert_eq!(put(change("echo one\n")).await.unwrap().status(), 200);
    assert_eq!(put(change("echo two\n")).await.unwrap().status(), 409);
    let (_, versions) = server
        .api_get(&admin, &format!("/api/v1/scripts/{id}/versions"))
        .await;
    assert_eq!(versions.as_array().unwrap().len(), 2, "{versions}");
    assert_eq!(versions[0]["version"], 2);
}

#[tokio::test]
async fn a_timeout_stops_the_script_and_says_so() {
    let server = TestServer::sqlite().await;
    let api = server.api_token().await;
    let mut device = agent(&server, "slow", true).await;
    start(&mut device);
    capabilities_known(&server, &api, 1).await;
    let script = add_script(&server, &api, "echo started\nsleep 30\n").await;
    let (status, sent) = server
        .api_post(
            &api,
            &format!("/api/v1/scripts/{}/runs", script["id"].as_str().unwrap()),
            json!({"target": "all", "timeout_secs": 1,
                   "params": {"word": "hello", "out": "/dev/null"}}),
        )
        .await;
    assert_eq!(status, 202, "{sent}");
    let done = finished(&server, &api, sent["id"].as_str().unwrap()).await;
    assert_eq!(done["batch"]["progress"]["failed"], 1, "{done}");
    assert!(
        done["jobs"][0]["message"]
            .as_str()
            .unwrap()
            .contains("timed out"),
        "{done}"
    );
    let job = server
        .store
        .job(done["jobs"][0]["job_id"].as_str().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(job.output.contains("started"), "{job:?}");
    device.stop().await;
}

#[tokio::test]
async fn an_offline_device_runs_the_script_on_return_unless_it_expired() {
    let server = TestServer::sqlite_manual_clock().await;
    let api = server.api_token().await;
    let mut device = agent(&server, "laptop", true).await;
    // Known to allow scripts, then away.
    start(&mut device);
    capabilities_known(&server, &api, 1).await;
    device.stop().await;
    server.clock().advance(Duration::from_secs(3600));

    let out = tempfile::tempdir().unwrap();
    let script = add_script(
        &server,
        &api,
        "echo \"$STEWARD_PARAM_WORD\" > \"$STEWARD_PARAM_OUT\"\n",
    )
    .await;
    let id = script["id"].as_str().unwrap();
    let run = |word: &str, file: &str| {
        json!({"target": "all", "expires_in_secs": 600,
               "params": {"word": word, "out": out.path().join(file).to_str().unwrap()}})
    };
    let (status, late) = server
        .api_post(
            &api,
            &format!("/api/v1/scripts/{id}/runs"),
            run("bye", "late"),
        )
        .await;
    assert_eq!(status, 202, "{late}");
    assert_eq!(late["progress"]["offline"], 1, "{late}");
    // The first run expires while the device is away.
    server.clock().advance(Duration::from_secs(3600));
    steward_server::expire_jobs(&server.state).await.unwrap();
    let (status, back) = server
        .api_post(
            &api,
            &format!("/api/v1/scripts/{id}/runs"),
            run("hello", "back"),
        )
        .await;
    assert_eq!(status, 202, "{back}");

    start(&mut device);
    let done = finished(&server, &api, back["id"].as_str().unwrap()).await;
    assert_eq!(done["batch"]["progress"]["succeeded"], 1, "{done}");
    assert_eq!(
        std::fs::read_to_string(out.path().join("back")).unwrap(),
        "hello\n"
    );
    let expired = batch(&server, &api, late["id"].as_str().unwrap()).await;
    assert_eq!(expired["batch"]["progress"]["expired"], 1, "{expired}");
    assert!(!out.path().join("late").exists());
    device.stop().await;
}

#[tokio::test]
async fn a_technician_limited_to_a_group_reaches_only_its_devices_batches_and_policies() {
    use crate::support::{Caller, api};
    use reqwest::Method;

    let server = TestServer::sqlite().await;
    let admin = server.api_token().await;
    let (ours, _) = server.enroll_raw("ours").await;
    let (theirs, _) = server.enroll_raw("theirs").await;
    let group = steward_server::secrets::new_id();
    server
        .store
        .create_group(&group, "Shop", server.now())
        .await
        .unwrap();
    server
        .store
        .set_device_group(&ours, Some(&group))
        .await
        .unwrap();
    server
        .create_user("tech", Role::Technician, "a password of some length")
        .await;
    let user = server
        .store
        .user_by_username("tech")
        .await
        .unwrap()
        .unwrap();
    server
        .store
        .set_user_scope(&user.id, &steward_core::Scope::Groups(vec![group.clone()]))
        .await
        .unwrap();
    let cookie = server.sign_in("tech", "a password of some length").await;
    let (_, html) = crate::support::get(&crate::support::browser(), &server, &cookie, "/").await;
    let csrf = steward_testkit::csrf_in(&html);
    let tech = Caller::Session {
        cookie: &cookie,
        csrf: &csrf,
    };

    // A patch policy on every device, or on another group's device, is refused; one on the
    // technician's group is kept, and only that one is listed to them.
    let policy = |target: String| {
        json!({"name": format!("p {target}"), "target": target,
               "policy": {"security": "auto", "others": {"mode": "never"}, "reboot": "in_window"}})
    };
    for target in [
        "all".to_owned(),
        format!("device:{theirs}"),
        "tag:x".to_owned(),
    ] {
        let (status, body) = api(
            &server,
            Method::POST,
            "/api/v1/patch-policies",
            tech,
            Some(policy(target.clone())),
        )
        .await;
        assert_eq!(status, 400, "{target}: {body}");
    }
    let (status, body) = api(
        &server,
        Method::POST,
        "/api/v1/patch-policies",
        tech,
        Some(policy(format!("group:{group}"))),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = server
        .api_post(&admin, "/api/v1/patch-policies", policy("all".into()))
        .await;
    assert_eq!(status, 201, "{body}");
    let (_, listed) = api(&server, Method::GET, "/api/v1/patch-policies", tech, None).await;
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    let (status, _) = api(
        &server,
        Method::DELETE,
        "/api/v1/patch-policies/p all",
        tech,
        None,
    )
    .await;
    assert_eq!(status, 404);
    // Approvals hold for every device: not a limited technician's to give.
    let (status, _) = api(
        &server,
        Method::POST,
        "/api/v1/updates/approvals",
        tech,
        Some(json!({"package": "openssl", "version": "3"})),
    )
    .await;
    assert_eq!(status, 400);

    // A run the administrator sent to every device: the technician sees nothing of the
    // other group's device in it, and a run only there not at all.
    for device in [&ours, &theirs] {
        server
            .store
            .set_agent_capabilities(device, Some(&["run_script".to_owned()]), None, true)
            .await
            .unwrap();
    }
    let script = add_script(&server, &admin, "true\n").await;
    let id = script["id"].as_str().unwrap();
    let run =
        |target: String| json!({"target": target, "params": {"word": "hello", "out": "/dev/null"}});
    let (_, everywhere) = server
        .api_post(
            &admin,
            &format!("/api/v1/scripts/{id}/runs"),
            run("all".into()),
        )
        .await;
    let (_, elsewhere) = server
        .api_post(
            &admin,
            &format!("/api/v1/scripts/{id}/runs"),
            run(format!("device:{theirs}")),
        )
        .await;
    let (status, seen) = api(
        &server,
        Method::GET,
        &format!("/api/v1/batches/{}", everywhere["id"].as_str().unwrap()),
        tech,
        None,
    )
    .await;
    assert_eq!(status, 200, "{seen}");
    assert_eq!(seen["batch"]["progress"]["total"], 1, "{seen}");
    assert_eq!(seen["jobs"][0]["device_id"], ours.as_str());
    let (status, _) = api(
        &server,
        Method::GET,
        &format!("/api/v1/batches/{}", elsewhere["id"].as_str().unwrap()),
        tech,
        None,
    )
    .await;
    assert_eq!(status, 404);
    let (_, list) = api(&server, Method::GET, "/api/v1/batches", tech, None).await;
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    // And a run the technician sends reaches only their device.
    let (status, mine) = api(
        &server,
        Method::POST,
        &format!("/api/v1/scripts/{id}/runs"),
        tech,
        Some(run("all".into())),
    )
    .await;
    assert_eq!(status, 202, "{mine}");
    assert_eq!(mine["progress"]["total"], 1, "{mine}");
}
