//! The table of documented routes, read from the OpenAPI document: which operation a
//! request is for (so the access policy can be applied before the handler runs), and which
//! methods a path supports (for 405 with `Allow`).

use utoipa::openapi::{OpenApi, path::Operation};

/// One documented operation.
#[derive(Debug, Clone)]
struct Route {
    segments: Vec<String>,
    method: &'static str,
    operation_id: Option<String>,
}

/// Every documented route, plus the documentation pages.
#[derive(Debug, Default)]
pub struct RouteTable {
    routes: Vec<Route>,
}

impl RouteTable {
    /// Builds the table from the document, plus the routes served outside it (the docs).
    pub fn from_spec(spec: &OpenApi) -> Self {
        let mut table = Self::default();
        for (path, item) in &spec.paths.paths {
            let operations: [(&'static str, &Option<Operation>); 5] = [
                ("GET", &item.get),
                ("POST", &item.post),
                ("PUT", &item.put),
                ("PATCH", &item.patch),
                ("DELETE", &item.delete),
            ];
            for (method, operation) in operations {
                if let Some(operation) = operation {
                    table.add(path, method, operation.operation_id.clone());
                }
            }
        }
        table.add(crate::openapi::SPEC_PATH, "GET", None);
        table.add("/docs", "GET", None);
        table
    }

    fn add(&mut self, path: &str, method: &'static str, operation_id: Option<String>) {
        self.routes.push(Route {
            segments: segments(path).map(str::to_owned).collect(),
            method,
            operation_id,
        });
    }

    /// Every operation id in the table.
    pub fn operation_ids(&self) -> impl Iterator<Item = &str> {
        self.routes
            .iter()
            .filter_map(|route| route.operation_id.as_deref())
    }

    /// The routes whose template matches `path` best: those with the most literal segments.
    /// `/campaigns/current` is the resource `current`, not the campaign with id `current`,
    /// whatever the method.
    fn best_matches(&self, path: &str) -> Vec<&Route> {
        let wanted: Vec<&str> = segments(path).collect();
        let scored: Vec<(usize, &Route)> = self
            .routes
            .iter()
            .filter_map(|route| {
                literal_matches(&route.segments, &wanted).map(|score| (score, route))
            })
            .collect();
        let best = scored.iter().map(|(score, _)| *score).max();
        scored
            .into_iter()
            .filter(|(score, _)| Some(*score) == best)
            .map(|(_, route)| route)
            .collect()
    }

    /// The operation a request is for: the route of its method among the best matches (as the
    /// router prefers `/users/me` over `/users/{id}`).
    pub fn operation(&self, method: &str, path: &str) -> Option<&str> {
        self.best_matches(path)
            .into_iter()
            .find(|route| route.method == method)
            .and_then(|route| route.operation_id.as_deref())
    }

    /// The methods `path` supports, or `None` when no route has this path.
    pub fn allowed_methods(&self, path: &str) -> Option<Vec<String>> {
        let mut allowed: Vec<String> = self
            .best_matches(path)
            .into_iter()
            .map(|route| route.method.to_owned())
            .collect();
        allowed.sort();
        allowed.dedup();
        (!allowed.is_empty()).then_some(allowed)
    }

    /// `Some(allowed)` when the router would hand the request to a less specific route than
    /// the path's own: `PATCH /campaigns/current` must be 405 (the resource has GET only), not
    /// a `PATCH /campaigns/{id}` with the id `current`.
    pub fn shadowed(&self, method: &str, path: &str) -> Option<Vec<String>> {
        let allowed = self.allowed_methods(path)?;
        (!allowed.iter().any(|allowed| allowed == method)).then_some(allowed)
    }
}

fn segments(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|segment| !segment.is_empty())
}

/// `Some(number of literal segments)` when the template matches the path.
fn literal_matches(template: &[String], path: &[&str]) -> Option<usize> {
    if template.len() != path.len() {
        return None;
    }
    let mut literals = 0;
    for (expected, actual) in template.iter().zip(path) {
        if expected.starts_with('{') && expected.ends_with('}') {
            continue;
        }
        if expected != actual {
            return None;
        }
        literals += 1;
    }
    Some(literals)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_match_any_single_segment_and_literals_win() {
        let mut table = RouteTable::default();
        table.add(
            "/api/v1/issues/{id}/close",
            "POST",
            Some("close_issue".to_owned()),
        );
        table.add("/api/v1/users/{id}", "GET", Some("get_user".to_owned()));
        table.add("/api/v1/users/me", "GET", Some("get_me".to_owned()));
        assert_eq!(
            table.allowed_methods("/api/v1/issues/abc/close"),
            Some(vec!["POST".to_owned()])
        );
        assert_eq!(table.allowed_methods("/api/v1/issues/abc"), None);
        assert_eq!(
            table.operation("POST", "/api/v1/issues/a/close"),
            Some("close_issue")
        );
        assert_eq!(table.operation("GET", "/api/v1/issues/a/close"), None);
        assert_eq!(table.operation("GET", "/api/v1/users/me"), Some("get_me"));
        assert_eq!(table.operation("GET", "/api/v1/users/42"), Some("get_user"));
    }

    #[test]
    fn a_literal_resource_answers_for_its_own_methods_only() {
        let mut table = RouteTable::default();
        table.add(
            "/api/v1/campaigns/current",
            "GET",
            Some("current".to_owned()),
        );
        table.add("/api/v1/campaigns/{id}", "GET", Some("get".to_owned()));
        table.add("/api/v1/campaigns/{id}", "PATCH", Some("update".to_owned()));
        assert_eq!(
            table.allowed_methods("/api/v1/campaigns/current"),
            Some(vec!["GET".to_owned()])
        );
        assert_eq!(table.operation("PATCH", "/api/v1/campaigns/current"), None);
        assert_eq!(
            table.shadowed("PATCH", "/api/v1/campaigns/current"),
            Some(vec!["GET".to_owned()])
        );
        assert_eq!(table.shadowed("PATCH", "/api/v1/campaigns/42"), None);
        assert_eq!(table.shadowed("GET", "/api/v1/nothing"), None);
    }
}
