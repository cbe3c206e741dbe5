//! The live feed's memory: applied events say which incident they opened or resolved and whose
//! monitor it was; replay gives a user's applied events and first acknowledgements after an id.

use crate::helpers::*;
use upcheck_domain::MonitorStatus;
use upcheck_domain::live::LiveMessage;
use upcheck_store::feed::{Audience, acknowledge_first, replay, seq_of};
use upcheck_store::incidents::{IncidentChange, apply_status_event};
use upcheck_testkit::TestEnv;

#[tokio::test]
async fn applied_events_name_their_owner_and_the_incident_they_opened_or_resolved_even_when_redelivered() {
    let env = TestEnv::new().await;
    let owner = user(&env).await;
    let m = monitor(&env, owner).await;
    let down = outboxed(&env, event(m, MonitorStatus::Up, MonitorStatus::Down)).await;
    let up = outboxed(&env, event(m, MonitorStatus::Down, MonitorStatus::Up)).await;

    let opened = apply_status_event(&env.pool, &down).await.unwrap();
    let resolved = apply_status_event(&env.pool, &up).await.unwrap();
    let again = apply_status_event(&env.pool, &down).await.unwrap();

    assert_eq!((opened[0].owner_id, opened[0].incident_change), (owner, Some(IncidentChange::Opened)));
    assert_eq!((resolved[0].owner_id, resolved[0].incident_change), (owner, Some(IncidentChange::Resolved)));
    assert_eq!(again, opened, "a redelivery reports the same");
}

#[tokio::test]
async fn replay_gives_one_users_applied_events_and_first_acknowledgements_after_an_id_oldest_first() {
    let env = TestEnv::new().await;
    let (me, them) = (user(&env).await, user(&env).await);
    let (mine, theirs) = (monitor(&env, me).await, monitor(&env, them).await);
    let seen = outboxed(&env, event(mine, MonitorStatus::Pending, MonitorStatus::Up)).await;
    apply_status_event(&env.pool, &seen).await.unwrap();
    let down = outboxed(&env, event(mine, MonitorStatus::Up, MonitorStatus::Down)).await;
    let applied = apply_status_event(&env.pool, &down).await.unwrap();
    let incident = applied.last().unwrap().incident_id.expect("an incident");
    let other = outboxed(&env, event(theirs, MonitorStatus::Up, MonitorStatus::Down)).await;
    apply_status_event(&env.pool, &other).await.unwrap();
    let unapplied = outboxed(&env, event(mine, MonitorStatus::Down, MonitorStatus::Up)).await;
    let ack =
        acknowledge_first(&env.pool, me, incident, me).await.unwrap().expect("the first acknowledgement");
    assert!(acknowledge_first(&env.pool, me, incident, me).await.unwrap().is_none(), "only the first");
    assert!(acknowledge_first(&env.pool, them, incident, them).await.unwrap().is_none(), "only the owner");

    let after = seen.seq.unwrap();
    let got = replay(&env.pool, Audience::Owner(me), after, 100).await.unwrap();

    let seqs: Vec<i64> = got.iter().map(seq_of).collect();
    assert_eq!(seqs, vec![down.seq.unwrap(), ack.seq], "not the seen, theirs or the unapplied {unapplied:?}");
    let LiveMessage::Status(s) = &got[0] else { panic!("{got:?}") };
    assert_eq!(
        (s.incident_id, s.incident.as_deref(), s.owner_id),
        (Some(incident), Some("incident.opened"), me)
    );
    assert_eq!(got[1], LiveMessage::Acknowledged(ack));
    assert_eq!(replay(&env.pool, Audience::Owner(me), after, 1).await.unwrap().len(), 1, "bounded");
    let public = replay(&env.pool, Audience::Monitors(&[theirs]), 0, 100).await.unwrap();
    assert_eq!(
        public.iter().map(seq_of).collect::<Vec<_>>(),
        vec![other.seq.unwrap()],
        "no acknowledgements"
    );
}
