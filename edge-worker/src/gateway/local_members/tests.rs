use super::*;

fn conv() -> Uuid {
    Uuid::from_u128(7)
}

fn users(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

fn answer(epoch: i64, members: &[&str]) -> MemberCheckAnswer {
    MemberCheckAnswer {
        removal_epoch: epoch,
        members: users(members),
    }
}

fn check(users_asked: &[&str], full: bool) -> Need {
    Need::Check {
        users: users(users_asked),
        full,
    }
}

#[test]
fn the_first_notify_asks_about_every_user_here_once_then_the_cache_answers() {
    let mut cache = LocalMembers::default();
    let here = users(&["alice", "bob", "carol"]);
    assert_eq!(
        cache.need(&conv(), 3, Some(0), || here.clone()),
        check(&["alice", "bob", "carol"], true)
    );
    cache.learn(conv(), 3, true, answer(0, &["alice", "carol"]));
    let mut asked = false;
    let need = cache.need(&conv(), 3, Some(0), || {
        asked = true;
        here.clone()
    });
    assert_eq!(need, Need::Known);
    assert!(!asked, "the users here are not even listed");
    assert_eq!(
        cache.members_here(&conv(), |u| here.iter().any(|h| h == u)),
        ["alice", "carol"]
    );
    assert_eq!(
        cache.members_here(&conv(), |u| u == "carol"),
        ["carol"],
        "a member who left this gateway is not notified here"
    );
}

#[test]
fn a_newer_registration_asks_only_about_users_not_known_as_members() {
    let mut cache = LocalMembers::default();
    cache.learn(conv(), 3, true, answer(0, &["alice"]));
    // dave arrived here (or bob was added while online): core's stamp moved
    let here = users(&["alice", "bob", "dave"]);
    assert_eq!(
        cache.need(&conv(), 5, Some(0), || here.clone()),
        check(&["bob", "dave"], false)
    );
    cache.learn(conv(), 5, false, answer(0, &["dave"]));
    assert_eq!(
        cache.need(&conv(), 5, Some(0), || here.clone()),
        Need::Known
    );
    assert_eq!(
        cache.need(&conv(), 4, Some(0), || here.clone()),
        Need::Known
    );
    assert_eq!(cache.members_here(&conv(), |_| true), ["alice", "dave"]);
    // every user here is a known member: a newer stamp needs no call
    let members_only = users(&["alice", "dave"]);
    assert_eq!(
        cache.need(&conv(), 9, Some(0), || members_only),
        Need::Known
    );
}

#[test]
fn removed_means_removed_a_newer_removal_epoch_asks_about_everyone_again() {
    let mut cache = LocalMembers::default();
    cache.learn(conv(), 3, true, answer(2, &["alice", "bob"]));
    let here = users(&["alice", "bob"]);
    assert_eq!(
        cache.need(&conv(), 3, Some(2), || here.clone()),
        Need::Known
    );
    assert_eq!(cache.need(&conv(), 3, None, || here.clone()), Need::Known);
    assert_eq!(
        cache.need(&conv(), 3, Some(3), || here.clone()),
        check(&["alice", "bob"], true),
        "bob may be the one removed"
    );
    cache.learn(conv(), 3, true, answer(3, &["alice"]));
    assert_eq!(cache.members_here(&conv(), |_| true), ["alice"]);
    // a partial answer at a newer epoch does not vouch for the members known before
    cache.learn(conv(), 6, false, answer(5, &["carol"]));
    assert_eq!(
        cache.need(&conv(), 6, Some(4), || here.clone()),
        check(&["alice", "bob"], true)
    );
}

#[test]
fn an_eviction_removes_the_member_at_once() {
    let mut cache = LocalMembers::default();
    cache.learn(conv(), 1, true, answer(0, &["alice", "bob"]));
    cache.removed(&conv(), "bob");
    cache.removed(&Uuid::from_u128(99), "alice");
    assert_eq!(cache.members_here(&conv(), |_| true), ["alice"]);
}

#[test]
fn with_nobody_here_nothing_is_asked_and_core_is_told_once_per_stamp() {
    let mut cache = LocalMembers::default();
    assert_eq!(cache.need(&conv(), 2, Some(0), Vec::new), Need::Nobody);
    assert!(cache.prune_once(conv(), 2));
    assert!(!cache.prune_once(conv(), 2), "the same stamp once");
    assert!(
        cache.prune_once(conv(), 3),
        "a newer registration may be pruned again"
    );
    assert!(cache.members_here(&conv(), |_| true).is_empty());
}

#[test]
fn the_cache_keeps_a_bounded_number_of_conversations_dropping_the_least_used() {
    let mut cache = LocalMembers::default();
    for n in 0..MAX_CACHED_CONVERSATIONS as u128 {
        cache.learn(Uuid::from_u128(n), 1, true, answer(0, &["alice"]));
    }
    // conversation 0 is used again: conversation 1 is now the least used
    assert_eq!(cache.members_here(&Uuid::from_u128(0), |_| true), ["alice"]);
    cache.learn(Uuid::from_u128(5_000), 1, true, answer(0, &["alice"]));
    assert_eq!(cache.len(), MAX_CACHED_CONVERSATIONS);
    let here = users(&["alice"]);
    assert_eq!(
        cache.need(&Uuid::from_u128(0), 1, Some(0), || here.clone()),
        Need::Known
    );
    assert_eq!(
        cache.need(&Uuid::from_u128(1), 1, Some(0), || here.clone()),
        check(&["alice"], true),
        "forgotten: asked again"
    );
}
