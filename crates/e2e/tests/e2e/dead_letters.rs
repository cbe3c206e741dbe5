//! The dead-letter workflow: a notification that ran out of attempts is listed by an admin,
//! replayed with fresh attempts and delivered; dead letters can be discarded; members get 403.

use crate::helpers::{Stack, WAIT};
use serde_json::json;
use upcheck_testkit::{FlipTarget, TestEnv, WebhookReceiver, wait_for};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_notification_is_listed_replayed_and_delivered_and_others_discarded() {
    let env = TestEnv::with_env(&[("NOTIFICATION_MAX_ATTEMPTS", "2")]).await;
    let stack = Stack::start_in(env).await;
    let target = FlipTarget::start().await;
    let receiver = WebhookReceiver::start().await;
    receiver.set_status(500);
    let (id, _) = stack.watched(&target.url, &receiver.url, 1).await;
    target.set_status(500);

    let page = wait_for("a dead letter", WAIT, || async {
        let page = stack.get("/admin/dead-letters?stream=notification").await;
        (!page["items"].as_array().unwrap().is_empty()).then_some(page)
    })
    .await;
    let letter = &page["items"][0];
    assert_eq!(letter["deliveries"], 2);
    assert!(
        letter["reason"].as_str().unwrap().starts_with("2 attempts failed; last: receiver answered 500"),
        "{letter}"
    );
    assert!(letter["message"]["notification_id"].is_string());
    let attempts_before = receiver.received().len();

    receiver.set_status(200);
    let replayed = stack
        .post(
            &format!("/admin/dead-letters/{}/replay?stream=notification", letter["id"].as_str().unwrap()),
            json!({}),
        )
        .await;
    assert_eq!(replayed["replayed"], 1);
    let log = wait_for("delivered after the replay", WAIT, || async {
        let log = stack.get(&format!("/monitors/{id}/notifications")).await;
        log["items"].as_array().unwrap().iter().find(|n| n["state"] == "delivered").cloned()
    })
    .await;
    assert_eq!(log["attempts"], 3, "two failed attempts, then one after the replay");
    assert_eq!(receiver.received().len(), attempts_before + 1);
    let after = stack.get("/admin/dead-letters?stream=notification").await;
    assert_eq!(after["items"], json!([]), "a replayed dead letter leaves the dead-letter stream");

    // A bulk replay takes only the dead letters its filter matches.
    let dlq = upcheck_streams::Keys::dead_letter(&stack.env.settings.streams.status_change);
    let dead = |reason: &'static str| {
        let mut redis = stack.env.redis.clone();
        let dlq = dlq.clone();
        async move {
            redis::cmd("XADD")
                .arg(&dlq)
                .arg("*")
                .arg("m")
                .arg("{\"not\":\"an event\"}")
                .arg("source_id")
                .arg("1-0")
                .arg("group")
                .arg("status-change")
                .arg("reason")
                .arg(reason)
                .arg("deliveries")
                .arg("1")
                .query_async::<String>(&mut redis)
                .await
                .unwrap()
        }
    };
    let junk = dead("does not decode").await;
    let other = dead("a poisoned batch").await;
    let bulk = stack
        .post("/admin/dead-letters/replay", json!({"stream": "status-change", "reason_contains": "poisoned"}))
        .await;
    assert_eq!(bulk["replayed"], 1);
    let listed = stack.get("/admin/dead-letters?stream=status-change&limit=500").await;
    let ids: Vec<&str> =
        listed["items"].as_array().unwrap().iter().map(|d| d["id"].as_str().unwrap()).collect();
    assert!(ids.contains(&junk.as_str()) && !ids.contains(&other.as_str()), "{ids:?}");

    // A dead letter nobody wants: discarded, then gone.
    let url = format!("{}/api/v1/admin/dead-letters/{junk}?stream=status-change", stack.api);
    let gone = stack.http.delete(&url).bearer_auth(&stack.token).send().await.unwrap();
    let again = stack.http.delete(&url).bearer_auth(&stack.token).send().await.unwrap();
    assert_eq!((gone.status().as_u16(), again.status().as_u16()), (204, 404));
    let bad_id = format!("{}/api/v1/admin/dead-letters/not-an-id/replay?stream=status-change", stack.api);
    let r = stack.http.post(&bad_id).bearer_auth(&stack.token).send().await.unwrap();
    assert_eq!(r.status(), 404, "an id that is no stream id is no dead letter");
    let replay_again = stack
        .http
        .post(format!(
            "{}/api/v1/admin/dead-letters/{}/replay?stream=notification",
            stack.api,
            letter["id"].as_str().unwrap()
        ))
        .bearer_auth(&stack.token)
        .send()
        .await
        .unwrap();
    assert_eq!(replay_again.status(), 404, "a dead letter is replayed once");

    // Members may not see or replay dead letters.
    let member = stack.user_token("member@example.com").await;
    let member = member.as_str();
    let r = stack
        .http
        .get(format!("{}/api/v1/admin/dead-letters", stack.api))
        .bearer_auth(member)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = stack
        .http
        .post(format!("{}/api/v1/admin/dead-letters/replay", stack.api))
        .bearer_auth(member)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    stack.stop().await;
}
