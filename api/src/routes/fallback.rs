//! What answers when no route matched: 405 with `Allow` when the path exists with other
//! methods, else 404 — both problem+json.

use actix_web::{HttpRequest, HttpResponse, web};

use crate::{
    error::{ApiError, ApiResult},
    route_table::RouteTable,
};

/// The default service of the app.
pub async fn no_route(req: HttpRequest, table: web::Data<RouteTable>) -> ApiResult<HttpResponse> {
    Err(match table.allowed_methods(req.path()) {
        Some(allow) => ApiError::MethodNotAllowed { allow },
        None => ApiError::NotFound("There is nothing at this path.".to_owned()),
    })
}
