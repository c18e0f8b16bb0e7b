//! The README's `curl` examples, run as written, with `curl` itself, against a fresh service.
//!
//! Each example is a `curl -i …` line (continued with a trailing `\`) in a `sh` block, after a
//! comment that ends with `→ <status>`. They run in order through `bash -c` with `FEEDS`,
//! `MARK_KEY` and `JANE_KEY` set as the README's set-up sets them, and `CURSOR` set to the
//! `next_cursor` of the response before, as the README says.

mod support;

use serde_json::Value;
use support::{Service, ROUTES};

/// One example: the command as written, and the status (and, for an error, the code) its
/// comment promises: `# … → 409 link_exists`.
#[derive(Debug)]
struct Example {
    command: String,
    status: u16,
    code: Option<String>,
}

fn examples() -> Vec<Example> {
    let readme = include_str!("../README.md");
    let mut examples = Vec::new();
    let mut in_sh = false;
    let mut promised: Option<(u16, Option<String>)> = None;
    let mut lines = readme.lines();
    while let Some(line) = lines.next() {
        let line = line.trim_end();
        if line.starts_with("```") {
            in_sh = line == "```sh";
            continue;
        }
        if !in_sh {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            promised = comment
                .rsplit_once('→')
                .and_then(|(_, after)| promise(after));
            continue;
        }
        if !line.starts_with("curl ") {
            continue;
        }
        let mut command = line.to_owned();
        while command.ends_with('\\') {
            command.pop();
            command.push_str(lines.next().expect("a continued line").trim());
        }
        let (status, code) = promised
            .take()
            .unwrap_or_else(|| panic!("no `# … → <status>` comment before {command:?}"));
        examples.push(Example {
            command,
            status,
            code,
        });
    }
    examples
}

/// What a comment's `→ …` promises: `201, Location: …`, `409 link_exists`, `200 {…}`.
fn promise(after: &str) -> Option<(u16, Option<String>)> {
    let mut words = after.split_whitespace();
    let status = words.next()?.trim_end_matches(',').parse().ok()?;
    // An error's code is the snake_case word right after its status.
    let code = words
        .next()
        .map(|w| w.trim_end_matches(','))
        .filter(|w| status >= 400 && w.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
        .map(str::to_owned);
    Some((status, code))
}

/// The method and path an example requests: `-X` (GET if absent) and the `$FEEDS/…` argument
/// without its query.
fn route_of(command: &str) -> (String, String) {
    let words = shell_words::split(command).expect("a shell command");
    let method = words
        .iter()
        .position(|w| w == "-X")
        .map_or("GET".to_owned(), |i| words[i + 1].clone());
    let url = words
        .iter()
        .find_map(|w| w.strip_prefix("$FEEDS"))
        .unwrap_or_else(|| panic!("no $FEEDS URL in {command:?}"));
    let path = url.split('?').next().unwrap().to_owned();
    (method, path)
}

/// Whether a concrete path matches a router path such as `/users/{id}/feed`.
fn matches(template: &str, path: &str) -> bool {
    let (t, p): (Vec<_>, Vec<_>) = (template.split('/').collect(), path.split('/').collect());
    t.len() == p.len()
        && t.iter()
            .zip(&p)
            .all(|(t, p)| (t.starts_with('{') && !p.is_empty()) || t == p)
}

#[test]
fn every_route_has_a_readme_example() {
    let routes: Vec<_> = examples().iter().map(|e| route_of(&e.command)).collect();
    assert!(routes.contains(&("GET".into(), "/health".into())));
    for &(method, template, _) in ROUTES {
        assert!(
            routes
                .iter()
                .any(|(m, p)| m == method && matches(template, p)),
            "no README example for {method} {template}"
        );
    }
}

#[tokio::test]
async fn the_readme_curl_examples_answer_as_documented() {
    let examples = examples();
    assert!(
        examples.len() >= 25,
        "only {} examples found",
        examples.len()
    );
    let with_codes = examples.iter().filter(|e| e.code.is_some()).count();
    assert!(
        with_codes >= 8,
        "only {with_codes} examples name an error code"
    );
    let service = Service::start().await;
    let mut cursor = String::new();
    for example in &examples {
        let output = tokio::process::Command::new("bash")
            .arg("-c")
            .arg(&example.command)
            .env("FEEDS", &service.base)
            .env("MARK_KEY", &service.keys["mark"])
            .env("JANE_KEY", &service.keys["jane"])
            .env("CURSOR", &cursor)
            .output()
            .await
            .expect("curl runs (it is installed with the toolchain's image; .ci/run checks)");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{}: {}",
            example.command,
            String::from_utf8_lossy(&output.stderr)
        );
        // `-i`: the status line, the headers, a blank line, the body.
        let status: u16 = stdout
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no status line from {}: {stdout}", example.command));
        assert_eq!(status, example.status, "{}\n{stdout}", example.command);
        let body = stdout.split_once("\r\n\r\n").map_or("", |(_, body)| body);
        if let Ok(json) = serde_json::from_str::<Value>(body) {
            if let Some(next) = json["feed"]["next_cursor"].as_str() {
                cursor = next.to_owned();
            }
            if status >= 400 {
                let code = json["error"]["code"].as_str();
                assert!(code.is_some(), "{}: {body}", example.command);
                if let Some(promised) = &example.code {
                    assert_eq!(code, Some(promised.as_str()), "{}", example.command);
                }
            }
        }
    }
    // What the examples promise about the end state: jane's photo is gone, the comment stays.
    let jane = service
        .call(Some("mark"), "GET", "/users/jane/activities", None)
        .await;
    assert_eq!(
        support::ids(&jane.body["activities"]).len(),
        1,
        "{}",
        jane.body
    );
    assert_eq!(jane.body["activities"][0]["type"], "comment");
    service.stop().await;
}
