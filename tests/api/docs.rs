//! `/docs` works on an intranet with no internet: every resource it loads is served by us.

use crate::helpers::spawn_app;

/// The `src`/`href` values of an HTML page.
fn referenced_resources(html: &str) -> Vec<String> {
    let mut found = Vec::new();
    for attribute in ["src=\"", "href=\""] {
        let mut rest = html;
        while let Some(start) = rest.find(attribute) {
            rest = &rest[start + attribute.len()..];
            if let Some(end) = rest.find('"') {
                found.push(rest[..end].to_owned());
                rest = &rest[end..];
            }
        }
    }
    found
}

#[tokio::test]
async fn docs_redirects_to_the_page_and_the_page_loads_nothing_from_outside() {
    let app = spawn_app().await;

    let redirect = app.get("/docs").await;
    assert!(
        matches!(redirect.status, 301 | 302 | 307 | 308),
        "status {}",
        redirect.status
    );
    let page = app.get("/docs/").await;

    assert_eq!(page.status, 200);
    let resources = referenced_resources(&page.text);
    assert!(
        !resources.is_empty(),
        "the page references its scripts and styles"
    );
    for resource in &resources {
        assert!(
            !resource.starts_with("http:")
                && !resource.starts_with("https:")
                && !resource.starts_with("//"),
            "/docs references an outside resource: {resource}"
        );
        let path = format!("/docs/{}", resource.trim_start_matches("./"));
        assert_eq!(app.get(&path).await.status, 200, "{path} is not served");
    }
}

#[tokio::test]
async fn the_docs_point_at_our_spec_and_disable_the_online_validator() {
    let app = spawn_app().await;

    let initializer = app.get("/docs/swagger-initializer.js").await;

    assert_eq!(initializer.status, 200);
    assert!(
        initializer.text.contains("/api-docs/openapi.json"),
        "{}",
        initializer.text
    );
    assert!(
        initializer.text.contains("\"validatorUrl\": \"none\"")
            || initializer.text.contains("\"validatorUrl\":\"none\""),
        "the validator badge would load from the internet: {}",
        initializer.text
    );
}
