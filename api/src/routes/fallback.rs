//! What answers when no route matched: 405 with `Allow` when the path exists with other
//! methods, else 404 — both problem+json. The table of paths is read from the OpenAPI
//! document, so it cannot disagree with the routes.

use actix_web::{HttpRequest, HttpResponse, web};

use crate::error::{ApiError, ApiResult};

/// Known path templates and their methods.
#[derive(Debug, Default)]
pub struct RouteTable {
    routes: Vec<(Vec<String>, Vec<String>)>,
}

impl RouteTable {
    /// Builds the table from the document, plus the routes served outside it (the docs).
    pub fn from_spec(spec: &utoipa::openapi::OpenApi) -> Self {
        let mut table = Self::default();
        for (path, item) in &spec.paths.paths {
            let methods = [
                ("GET", item.get.is_some()),
                ("POST", item.post.is_some()),
                ("PUT", item.put.is_some()),
                ("PATCH", item.patch.is_some()),
                ("DELETE", item.delete.is_some()),
            ]
            .into_iter()
            .filter(|(_, present)| *present)
            .map(|(method, _)| method.to_owned())
            .collect();
            table.add(path, methods);
        }
        table.add("/api-docs/openapi.json", vec!["GET".to_owned()]);
        table.add("/docs", vec!["GET".to_owned()]);
        table
    }

    fn add(&mut self, path: &str, methods: Vec<String>) {
        self.routes
            .push((segments(path).map(str::to_owned).collect(), methods));
    }

    /// The methods `path` supports, or `None` when no route has this path.
    pub fn allowed_methods(&self, path: &str) -> Option<Vec<String>> {
        let wanted: Vec<&str> = segments(path).collect();
        let mut allowed: Vec<String> = self
            .routes
            .iter()
            .filter(|(template, _)| matches_template(template, &wanted))
            .flat_map(|(_, methods)| methods.iter().cloned())
            .collect();
        allowed.sort();
        allowed.dedup();
        (!allowed.is_empty()).then_some(allowed)
    }
}

fn segments(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|segment| !segment.is_empty())
}

fn matches_template(template: &[String], path: &[&str]) -> bool {
    template.len() == path.len()
        && template.iter().zip(path).all(|(expected, actual)| {
            (expected.starts_with('{') && expected.ends_with('}')) || expected == actual
        })
}

/// The default service of the app.
pub async fn no_route(req: HttpRequest, table: web::Data<RouteTable>) -> ApiResult<HttpResponse> {
    Err(match table.allowed_methods(req.path()) {
        Some(allow) => ApiError::MethodNotAllowed { allow },
        None => ApiError::NotFound("There is nothing at this path.".to_owned()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_match_any_single_segment() {
        let mut table = RouteTable::default();
        table.add("/api/v1/issues/{id}/close", vec!["POST".to_owned()]);
        assert_eq!(
            table.allowed_methods("/api/v1/issues/abc/close"),
            Some(vec!["POST".to_owned()])
        );
        assert_eq!(table.allowed_methods("/api/v1/issues/abc"), None);
        assert_eq!(table.allowed_methods("/api/v1/issues/a/b/close"), None);
    }
}
