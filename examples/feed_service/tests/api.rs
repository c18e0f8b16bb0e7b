//! The service over real HTTP: feeds, paging, auth and errors.

mod support;

use chrono::{Duration, SecondsFormat, Utc};
use serde_json::{json, Value};
use support::{ids, Service, BODY_LIMIT, ROUTES};

/// An activity body published `seconds` from now (in the future, so that it comes after any
/// follow made during the test and the order is fixed).
fn post_at(client_id: &str, object: &str, seconds: i64) -> Value {
    json!({
        "id": client_id,
        "verb": "post",
        "object": {"id": object, "type": "photo"},
        "published": (Utc::now() + Duration::seconds(seconds)).to_rfc3339(),
    })
}

#[tokio::test]
async fn the_feed_shows_what_the_reader_follows_and_watches_newest_first() {
    let service = Service::start().await;
    assert_eq!(
        service
            .call(Some("carlos"), "PUT", "/following/mark", None)
            .await
            .status,
        201
    );
    let watch = service
        .call(Some("carlos"), "PUT", "/watching/project/apollo", None)
        .await;
    assert_eq!(watch.status, 201, "{watch:?}");
    assert_eq!(watch.body["linked_activity"]["activity_class"], "object");

    let m1 = service.post("mark", post_at("m1", "photo-1", 1)).await;
    // jane is not followed: only her comment on the watched project comes through.
    service.post("jane", post_at("j1", "photo-2", 2)).await;
    let comment = service
        .post(
            "jane",
            json!({
                "verb": "comment",
                "object": {"id": "c1", "type": "comment"},
                "target": {"id": "apollo", "type": "project"},
                "published": (Utc::now() + Duration::seconds(3)).to_rfc3339(),
            }),
        )
        .await;
    let m2 = service.post("mark", post_at("m2", "photo-3", 4)).await;
    assert_eq!(m1, "mark:m1", "client ids are scoped to the caller");

    let feed = service
        .call(Some("carlos"), "GET", "/users/carlos/feed", None)
        .await;
    assert_eq!(feed.status, 200, "{feed:?}");
    assert_eq!(feed.body["aggregator"], "flat");
    assert_eq!(feed.body["links_left_out"], 0);
    assert_eq!(
        ids(&feed.body["feed"]["activities"]),
        [m2.clone(), comment.clone(), m1.clone()]
    );
    assert_eq!(feed.body["feed"]["next_cursor"], Value::Null);

    // Verbs filter the flat feed; the comment keeps its verb.
    let comments = service
        .call(
            Some("carlos"),
            "GET",
            "/users/carlos/feed?verbs=comment",
            None,
        )
        .await;
    assert_eq!(
        ids(&comments.body["feed"]["activities"]),
        std::slice::from_ref(&comment)
    );
    assert_eq!(comments.body["feed"]["activities"][0]["type"], "comment");

    // Oldest first.
    let asc = service
        .call(Some("carlos"), "GET", "/users/carlos/feed?order=asc", None)
        .await;
    assert_eq!(
        ids(&asc.body["feed"]["activities"]),
        [m1.clone(), comment.clone(), m2.clone()]
    );

    // Grouped: one year, one month, two verbs, newest verb first.
    let grouped = service
        .call(
            Some("carlos"),
            "GET",
            "/users/carlos/feed?aggregator=year_month_type&hits_per_group=5",
            None,
        )
        .await;
    assert_eq!(grouped.status, 200, "{grouped:?}");
    let year = &grouped.body["feed"][0];
    let types = &year["months"][0]["types"];
    assert_eq!(types[0]["type"], "post");
    assert_eq!(ids(&types[0]["activities"]), [m2.clone(), m1.clone()]);
    assert_eq!(types[1]["type"], "comment");

    // After an unfollow, only the watch is left.
    assert_eq!(
        service
            .call(Some("carlos"), "DELETE", "/following/mark", None)
            .await
            .status,
        204
    );
    let feed = service
        .call(Some("carlos"), "GET", "/users/carlos/feed", None)
        .await;
    assert_eq!(ids(&feed.body["feed"]["activities"]), [comment]);
    service.stop().await;
}

#[tokio::test]
async fn every_aggregator_answers_with_its_own_shape() {
    let service = Service::start().await;
    service
        .call(Some("carlos"), "PUT", "/following/mark", None)
        .await;
    let mut posted = Vec::new();
    for n in 0..3 {
        posted.push(
            service
                .post("mark", post_at(&format!("p{n}"), &format!("o{n}"), n + 1))
                .await,
        );
    }
    // Notification's default window ends now: these posts lie seconds ahead.
    let hour_ago = (Utc::now() - Duration::hours(1)).to_rfc3339_opts(SecondsFormat::Secs, true);
    for &name in feed_service::AGGREGATORS {
        let mut path = format!("/users/carlos/feed?aggregator={name}");
        if name == "notification" {
            path.push_str(&format!("&since={hour_ago}"));
        }
        let reply = service.call(Some("carlos"), "GET", &path, None).await;
        assert_eq!(reply.status, 200, "{name}: {reply:?}");
        assert_eq!(reply.body["aggregator"], name);
        let feed = &reply.body["feed"];
        // Count the activities each shape holds, wherever they sit.
        let found = match name {
            "flat" | "collapse" | "decay" => feed["activities"].as_array().unwrap().len(),
            "notification" => feed
                .as_array()
                .unwrap()
                .iter()
                .map(|row| row["event_count"].as_u64().unwrap() as usize)
                .sum(),
            _ => count_activities(feed),
        };
        // DateWeight lists days back from now: these posts lie seconds ahead, on today.
        assert_eq!(found, 3, "{name}: {feed}");
    }
    service.stop().await;
}

/// Activities anywhere in a grouped feed: every `activities` list, however deep.
fn count_activities(value: &Value) -> usize {
    match value {
        Value::Array(items) => items.iter().map(count_activities).sum(),
        Value::Object(map) => map
            .iter()
            .map(|(key, v)| match (key.as_str(), v) {
                ("activities", Value::Array(list)) => list.len(),
                _ => count_activities(v),
            })
            .sum(),
        _ => 0,
    }
}

#[tokio::test]
async fn cursor_paging_reaches_the_end_without_repeats_and_cursors_are_bound() {
    let service = Service::start().await;
    service
        .call(Some("carlos"), "PUT", "/following/mark", None)
        .await;
    // Seven posts; two share a millisecond, so the id breaks the tie.
    let published = (Utc::now() + Duration::seconds(60)).to_rfc3339();
    let mut expected = Vec::new();
    for n in 0..5 {
        expected.push(
            service
                .post("mark", post_at(&format!("a{n}"), "x", n + 1))
                .await,
        );
    }
    for id in ["tie-a", "tie-b"] {
        let mut body = post_at(id, "y", 0);
        body["published"] = json!(published);
        expected.push(service.post("mark", body).await);
    }
    expected.reverse(); // newest first: tie-b, tie-a, a4, …, a0

    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            None => "/users/carlos/feed?page_size=3".to_owned(),
            Some(c) => format!("/users/carlos/feed?page_size=3&cursor={c}"),
        };
        let reply = service.call(Some("carlos"), "GET", &path, None).await;
        assert_eq!(reply.status, 200, "{reply:?}");
        pages.push(ids(&reply.body["feed"]["activities"]));
        match reply.body["feed"]["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
        assert!(pages.len() < 10, "paging does not end");
    }
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [3, 3, 1]);
    assert_eq!(pages.concat(), expected);

    // A cursor belongs to one reader and one set of parameters.
    let first = service
        .call(
            Some("carlos"),
            "GET",
            "/users/carlos/feed?page_size=3",
            None,
        )
        .await;
    let token = first.body["feed"]["next_cursor"]
        .as_str()
        .unwrap()
        .to_owned();
    let other_size = service
        .call(
            Some("carlos"),
            "GET",
            &format!("/users/carlos/feed?page_size=4&cursor={token}"),
            None,
        )
        .await;
    assert_eq!(
        (other_size.status, other_size.code()),
        (400, "invalid_cursor")
    );
    service
        .call(Some("jane"), "PUT", "/following/mark", None)
        .await;
    let other_reader = service
        .call(
            Some("jane"),
            "GET",
            &format!("/users/jane/feed?page_size=3&cursor={token}"),
            None,
        )
        .await;
    assert_eq!(
        (other_reader.status, other_reader.code()),
        (400, "invalid_cursor")
    );

    // A user's public activities page the same way, to any caller.
    let mut listed = Vec::new();
    let mut path = "/users/mark/activities?page_size=2".to_owned();
    loop {
        let reply = service.call(Some("jane"), "GET", &path, None).await;
        assert_eq!(reply.status, 200, "{reply:?}");
        listed.extend(ids(&reply.body["activities"]));
        match reply.body["next_cursor"].as_str() {
            Some(next) => path = format!("/users/mark/activities?page_size=2&cursor={next}"),
            None => break,
        }
    }
    assert_eq!(listed, expected);
    service.stop().await;
}

#[tokio::test]
async fn client_ids_make_retries_harmless_and_are_scoped_to_the_caller() {
    let service = Service::start().await;
    let mut body = post_at("hello", "p1", 1);
    body.as_object_mut().unwrap().remove("published");
    let first = service
        .call(Some("mark"), "POST", "/activities", Some(body.clone()))
        .await;
    assert_eq!(first.status, 201, "{first:?}");
    assert_eq!(first.headers["location"], "/activities/mark:hello");
    // A retry, later (so with another "now"), answers with what was stored and writes nothing.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let before = service.snapshot().await;
    let again = service
        .call(Some("mark"), "POST", "/activities", Some(body.clone()))
        .await;
    assert_eq!((again.status, &again.body), (200, &first.body));
    assert_eq!(service.snapshot().await, before);
    // Another activity under the same id is a conflict, and writes nothing either.
    let mut other = body.clone();
    other["verb"] = json!("like");
    let conflict = service
        .call(Some("mark"), "POST", "/activities", Some(other.clone()))
        .await;
    assert_eq!(
        (conflict.status, conflict.code()),
        (409, "activity_conflict")
    );
    assert_eq!(service.snapshot().await, before);
    // Another user's id space is their own.
    let janes = service.post("jane", body.clone()).await;
    assert_eq!(janes, "jane:hello");
    let marks = service
        .call(Some("carlos"), "GET", "/users/mark/activities", None)
        .await;
    assert_eq!(ids(&marks.body["activities"]), ["mark:hello"]);
    // Removing the activity frees its id.
    let removed = service
        .call(Some("mark"), "DELETE", "/activities/mark:hello", None)
        .await;
    assert_eq!(removed.status, 204);
    let reused = service
        .call(Some("mark"), "POST", "/activities", Some(other))
        .await;
    assert_eq!(
        (reused.status, reused.body["type"].as_str()),
        (201, Some("like"))
    );
    // A server-assigned id is new each time.
    let mut fresh = post_at("x", "p2", 2);
    fresh.as_object_mut().unwrap().remove("id");
    let (a, b) = (
        service.post("mark", fresh.clone()).await,
        service.post("mark", fresh).await,
    );
    assert_ne!(a, b);
    let got = service
        .call(Some("jane"), "GET", &format!("/activities/{a}"), None)
        .await;
    assert_eq!(
        (got.status, got.body["actor"]["id"].as_str()),
        (200, Some("mark"))
    );
    service.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_posts_under_one_client_id_store_one_activity() {
    let service = std::sync::Arc::new(Service::start().await);
    for round in 0..5 {
        let id = format!("race{round}");
        // The same body but for its verb: the same `published` makes equal verbs equal posts.
        let template = post_at(&id, "p", 1);
        let posts = (0..8).map(|n| {
            let service = service.clone();
            let mut body = template.clone();
            body["verb"] = json!(if n % 2 == 0 { "post" } else { "like" });
            tokio::spawn(async move {
                let verb = body["verb"].as_str().unwrap().to_owned();
                let reply = service
                    .call(Some("mark"), "POST", "/activities", Some(body))
                    .await;
                (verb, reply.status)
            })
        });
        let mut replies = Vec::new();
        for post in posts.collect::<Vec<_>>() {
            replies.push(post.await.unwrap());
        }
        let created: Vec<_> = replies
            .iter()
            .filter(|(_, status)| *status == 201)
            .collect();
        assert_eq!(created.len(), 1, "round {round}: {replies:?}");
        let winner = &created[0].0;
        for (verb, status) in &replies {
            let expected = if verb == winner {
                [200, 201]
            } else {
                [409, 409]
            };
            assert!(expected.contains(status), "round {round}: {replies:?}");
        }
        let stored = service
            .call(Some("mark"), "GET", &format!("/activities/mark:{id}"), None)
            .await;
        assert_eq!(stored.body["type"].as_str(), Some(winner.as_str()));
    }
    std::sync::Arc::into_inner(service).unwrap().stop().await;
}

#[tokio::test]
async fn the_profile_counts_followers_and_links() {
    let service = Service::start().await;
    for user in ["jane", "carlos"] {
        service
            .call(Some(user), "PUT", "/following/mark", None)
            .await;
    }
    service
        .call(Some("mark"), "PUT", "/watching/project/apollo", None)
        .await;
    let profile = service.call(Some("jane"), "GET", "/users/mark", None).await;
    assert_eq!(profile.status, 200);
    assert_eq!(
        profile.body,
        json!({"id": "mark", "followers": 2, "following": 1})
    );
    let network = service
        .call(Some("jane"), "GET", "/users/jane/network", None)
        .await;
    assert_eq!(network.status, 200);
    assert_eq!(network.body["total"], 1);
    assert_eq!(network.body["links"][0]["linked_activity"]["id"], "mark");
    service.stop().await;
}

#[tokio::test]
async fn every_route_but_health_needs_a_valid_key() {
    let service = Service::start().await;
    let health = service.call(None, "GET", "/health", None).await;
    assert_eq!(
        (health.status, &health.body),
        (200, &json!({"status": "ok"}))
    );
    let before = service.snapshot().await;
    let wrong_key = format!("Bearer {}x", service.keys["mark"]);
    let basic = "Basic bWFyazpzZWNyZXQ=".to_owned();
    let (empty, no_space) = (
        "Bearer ".to_owned(),
        format!("Bearer{}", service.keys["mark"]),
    );
    for &(method, _, path) in ROUTES {
        let body = (method == "POST").then(|| post_at("a", "p", 1));
        let none = service.call(None, method, path, body.clone()).await;
        assert_eq!(
            (none.status, none.code()),
            (401, "unauthorized"),
            "{method} {path}"
        );
        assert_eq!(none.headers["www-authenticate"], "Bearer");
        for header in [&wrong_key, &basic, &empty, &no_space] {
            let body = serde_json::to_vec(&body).unwrap();
            let reply = service
                .raw(
                    None,
                    method,
                    path,
                    &[
                        ("authorization", header),
                        ("content-type", "application/json"),
                    ],
                    body,
                )
                .await;
            assert_eq!(
                (reply.status, reply.code()),
                (401, "unauthorized"),
                "{method} {path} {header}"
            );
        }
    }
    assert_eq!(
        service.snapshot().await,
        before,
        "a refused request wrote something"
    );
    // The scheme is case-insensitive (RFC 9110), and spaces around the key are not part of it.
    for header in [
        format!("bearer {}", service.keys["mark"]),
        format!("BEARER  {} ", service.keys["mark"]),
    ] {
        let reply = service
            .raw(
                None,
                "GET",
                "/users/mark/network",
                &[("authorization", &header)],
                vec![],
            )
            .await;
        assert_eq!(reply.status, 200, "{header:?}: {reply:?}");
    }
    service.stop().await;
}

#[tokio::test]
async fn a_running_service_follows_the_keys_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys");
    let mark = feed_service::auth::add_user(&path, "mark").unwrap();
    let users = std::sync::Arc::new(feed_service::Keys::watch(&path).unwrap());
    let watcher = tokio::spawn(users.clone().follow());
    let keys = [("mark", mark.clone())].into_iter().collect();
    let service = Service::start_with_keys(users, keys, Default::default()).await;
    let status = |user: &'static str, key: String| {
        let service = &service;
        async move {
            let header = format!("Bearer {key}");
            let path = format!("/users/{user}/network");
            service
                .raw(None, "GET", &path, &[("authorization", &header)], vec![])
                .await
                .status
        }
    };
    assert_eq!(status("mark", mark.clone()).await, 200);
    // A key added while the service runs works within a check or two.
    let jane = feed_service::auth::add_user(&path, "jane").unwrap();
    assert!(
        wait_for(|| status("jane", jane.clone()), 200).await,
        "jane's new key was never accepted"
    );
    // Deleting mark's line revokes his key.
    let kept: String = std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .filter(|line| line.ends_with(" jane"))
        .map(|line| format!("{line}\n"))
        .collect();
    std::fs::write(&path, kept).unwrap();
    assert!(
        wait_for(|| status("mark", mark.clone()), 401).await,
        "mark's deleted key still works"
    );
    assert_eq!(status("jane", jane).await, 200);
    watcher.abort();
    service.stop().await;
}

/// Polls `check` until it gives `want`, for up to three key-file checks.
async fn wait_for<F, Fut>(check: F, want: u16) -> bool
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = u16>,
{
    let deadline = std::time::Instant::now() + feed_service::keys::CHECK_EVERY * 3;
    while std::time::Instant::now() < deadline {
        if check().await == want {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test]
async fn a_read_slower_than_the_timeout_is_a_json_503() {
    let service = Service::start_with(feed_service::Limits {
        read_timeout: std::time::Duration::from_nanos(1),
        ..Default::default()
    })
    .await;
    // Enough activities that a grouped read takes longer than the timer's first tick (1 ms):
    // RecentTypeObject reads the whole feed.
    service
        .call(Some("mark"), "PUT", "/following/jane", None)
        .await;
    let jane = elasticfeeds::Actor::new("jane", "person").unwrap();
    let activities = (0..2_000)
        .map(|n| {
            let object = elasticfeeds::Object::new(&format!("o{n}"), "photo").unwrap();
            elasticfeeds::Activity::new("post", jane.clone(), object).unwrap()
        })
        .collect();
    for result in service.manager.add_activities(activities).await.unwrap() {
        result.unwrap();
    }
    let path = "/users/mark/feed?aggregator=recent_type_object";
    let reply = service.call(Some("mark"), "GET", path, None).await;
    assert_eq!((reply.status, reply.code()), (503, "timeout"), "{reply:?}");
    service.stop().await;
}

#[tokio::test]
async fn private_routes_and_other_users_activities_are_forbidden() {
    let service = Service::start().await;
    service
        .call(Some("mark"), "PUT", "/following/jane", None)
        .await;
    let id = service.post("mark", post_at("mine", "p", 1)).await;
    let before = service.snapshot().await;
    for path in [
        "/users/mark/feed",
        "/users/mark/network",
        "/users/mark/feed?aggregator=notification",
    ] {
        let reply = service.call(Some("jane"), "GET", path, None).await;
        assert_eq!((reply.status, reply.code()), (403, "forbidden"), "{path}");
    }
    let delete = service
        .call(Some("jane"), "DELETE", &format!("/activities/{id}"), None)
        .await;
    assert_eq!((delete.status, delete.code()), (403, "forbidden"));
    assert_eq!(
        service.snapshot().await,
        before,
        "a forbidden request wrote something"
    );
    // The owner may.
    let delete = service
        .call(Some("mark"), "DELETE", &format!("/activities/{id}"), None)
        .await;
    assert_eq!(delete.status, 204);
    let gone = service
        .call(Some("mark"), "GET", &format!("/activities/{id}"), None)
        .await;
    assert_eq!((gone.status, gone.code()), (404, "activity_not_found"));
    service.stop().await;
}

#[tokio::test]
async fn errors_have_a_stable_code_and_change_nothing() {
    let service = Service::start().await;
    service
        .call(Some("mark"), "PUT", "/following/jane", None)
        .await;
    service.post("mark", post_at("kept", "p", 1)).await;
    let before = service.snapshot().await;

    let json = |value: Value| serde_json::to_vec(&value).unwrap();
    let valid = post_at("new", "p", 2);
    let with = |field: &str, value: Value| {
        let mut body = valid.clone();
        body[field] = value;
        json(body)
    };
    let ct = [("content-type", "application/json")];
    // (method, path, headers, body, status, code)
    type Case<'a> = (
        &'a str,
        &'a str,
        &'a [(&'a str, &'a str)],
        Vec<u8>,
        u16,
        &'a str,
    );
    #[rustfmt::skip] // One case a line reads as a table.
    let cases: Vec<Case> = vec![
        // Bodies the library refuses.
        ("POST", "/activities", &ct, with("verb", json!("po st")), 400, "invalid_keyword"),
        ("POST", "/activities", &ct, with("object", json!({"id": "", "type": "photo"})), 400, "invalid_id"),
        ("POST", "/activities", &ct, with("object", json!({"id": "a b", "type": "photo"})), 400, "invalid_id"),
        ("POST", "/activities", &ct, with("target", json!({"id": "t", "type": "Pro_ject"})), 400, "invalid_keyword"),
        ("POST", "/activities", &ct, with("extra", json!([1, 2])), 400, "invalid_extra"),
        ("POST", "/activities", &ct, with("published", json!("10000-01-01T00:00:00Z")), 400, "malformed_body"),
        ("POST", "/activities", &ct, with("published", json!((Utc::now() + Duration::minutes(6)).to_rfc3339())), 400, "invalid_timestamp"),
        ("POST", "/activities", &ct, with("id", json!("..")), 400, "invalid_id"),
        ("POST", "/activities", &ct, with("id", json!("a:b")), 400, "invalid_id"),
        // Bodies that are not what the route takes.
        ("POST", "/activities", &ct, with("actor", json!({"id": "jane", "type": "person"})), 400, "malformed_body"),
        ("POST", "/activities", &ct, b"{\"verb\": \"post\",".to_vec(), 400, "malformed_body"),
        ("POST", "/activities", &ct, json(json!({"verb": "post"})), 400, "malformed_body"),
        ("POST", "/activities", &[], json(valid.clone()), 415, "unsupported_media_type"),
        ("POST", "/activities", &ct, vec![b' '; BODY_LIMIT + 1], 413, "body_too_large"),
        // Links.
        ("PUT", "/following/jane", &[], vec![], 409, "link_exists"),
        ("PUT", "/following/nobody", &[], vec![], 404, "user_not_found"),
        ("DELETE", "/following/carlos", &[], vec![], 404, "link_not_found"),
        ("DELETE", "/watching/project/apollo", &[], vec![], 404, "link_not_found"),
        ("PUT", "/watching/Pro_ject/apollo", &[], vec![], 400, "invalid_keyword"),
        // Missing things.
        ("GET", "/activities/mark:missing", &[], vec![], 404, "activity_not_found"),
        ("DELETE", "/activities/mark:missing", &[], vec![], 404, "activity_not_found"),
        ("GET", "/users/nobody", &[], vec![], 404, "user_not_found"),
        ("GET", "/users/nobody/activities", &[], vec![], 404, "user_not_found"),
        ("GET", "/no/such/route", &[], vec![], 404, "not_found"),
        ("PATCH", "/activities", &[], vec![], 405, "method_not_allowed"),
        // Feed parameters.
        ("GET", "/users/mark/feed?aggregator=nope", &[], vec![], 400, "invalid_parameter"),
        ("GET", "/users/mark/feed?pagesize=5", &[], vec![], 400, "invalid_parameter"),
        ("GET", "/users/mark/feed?page_size=0", &[], vec![], 400, "invalid_parameter"),
        ("GET", "/users/mark/feed?page_size=101", &[], vec![], 400, "invalid_parameter"),
        ("GET", "/users/mark/feed?page_size=ten", &[], vec![], 400, "invalid_parameter"),
        ("GET", "/users/mark/feed?page_size=2&page_size=3", &[], vec![], 400, "invalid_parameter"),
        ("GET", "/users/mark/feed?order=sideways", &[], vec![], 400, "invalid_parameter"),
        ("GET", "/users/mark/feed?verbs=po_st", &[], vec![], 400, "invalid_keyword"),
        ("GET", "/users/mark/feed?cursor=garbage", &[], vec![], 400, "invalid_cursor"),
        ("GET", "/users/mark/feed?aggregator=year_month_type&cursor=x", &[], vec![], 400, "invalid_parameter"),
        ("GET", "/users/mark/feed?aggregator=year_month_type&months=13", &[], vec![], 400, "invalid_size"),
        ("GET", "/users/mark/feed?aggregator=year_month_type&groups=51", &[], vec![], 400, "invalid_parameter"),
        ("GET", "/users/mark/feed?aggregator=recent_type_object&hits_per_group=21", &[], vec![], 400, "invalid_parameter"),
        ("GET", "/users/mark/feed?aggregator=date_weight&days=32", &[], vec![], 400, "invalid_parameter"),
        ("GET", "/users/mark/feed?aggregator=recent_type_object&types=50&objects=50", &[], vec![], 400, "invalid_parameter"),
        ("GET", "/users/mark/feed?aggregator=recent_object_type&hits_per_group=6", &[], vec![], 400, "invalid_parameter"),
        ("GET", "/users/mark/feed?aggregator=decay&decay=1.5", &[], vec![], 400, "invalid_query"),
        ("GET", "/users/mark/feed?aggregator=notification&since=yesterday", &[], vec![], 400, "invalid_parameter"),
        ("GET", "/users/mark/feed?aggregator=notification&until=2026-01-01T00:00:00Z", &[], vec![], 400, "invalid_parameter"),
        ("GET", "/users/mark/activities?cursor=garbage", &[], vec![], 400, "invalid_cursor"),
        ("GET", "/users/mark/activities?page_size=1000", &[], vec![], 400, "invalid_parameter"),
    ];
    for (method, path, headers, body, status, code) in cases {
        let reply = service.raw(Some("mark"), method, path, headers, body).await;
        assert_eq!(
            (reply.status, reply.code()),
            (status, code),
            "{method} {path}: {}",
            reply.body
        );
        assert!(
            !reply.body["error"]["message"]
                .as_str()
                .unwrap_or("")
                .is_empty(),
            "{method} {path}: an error says what went wrong"
        );
        assert_eq!(
            service.snapshot().await,
            before,
            "{method} {path} wrote something"
        );
    }
    service.stop().await;
}
