//! The cluster (docs/scale-out.md): the nodes sharing this database, and forgetting one that
//! is gone for good.

use super::*;
use model::cluster::Cluster;

/// The nodes sharing this database: where each listens, whether it is up (heard from within
/// the last 10 s), when it last said so, and what it is doing (its import jobs, the scheduled
/// work it does for the cluster, the phone requests it answered).
#[utoipa::path(get, path = "/api/v1/cluster", tag = "cluster",
    responses((status = 200, body = Cluster)))]
pub(super) async fn get_cluster(State(s): State<AppState>, _a: Admin) -> ApiResult<Json<Cluster>> {
    Ok(Json(s.service.cluster().await?))
}

/// Forgets a node that is gone for good: it leaves the phones' TFTP server lists. A node that
/// is up is refused (stop it first); a node that starts again joins again.
#[utoipa::path(delete, path = "/api/v1/cluster/nodes/{name}", tag = "cluster",
    params(("name" = String, Path, description = "the node's name")),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub(super) async fn forget_node(
    State(s): State<AppState>,
    Admin(a): Admin,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    s.service.forget_node(&a, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}
