//! The overview page.

use super::*;

use crate::auth::within;

pub(super) async fn dashboard(State(s): State<AppState>, c: Console) -> Response {
    let one = || model::Find {
        limit: 1,
        ..Default::default()
    };
    let counts = async {
        Ok::<_, service::Error>(context! {
            // What this administrator may see of each.
            phones => s.service.find_phones(&within(c.actor(), "phone", one())).await?.total,
            users => s.service.find_users(&within(c.actor(), "user", one())).await?.total,
            lines => s.service.find_lines(&within(c.actor(), "line", one())).await?.total,
            profiles => s.service.find_device_profiles(&within(c.actor(), "device_profile", one())).await?.total,
        })
    };
    let status = async {
        s.flush_seen().await;
        Ok::<_, service::Error>(context! {
            never_seen => s.service.device_statuses(Some("never_seen"), "", 1, 0).await?.total,
            failing => s.service.device_statuses(Some("failing"), "", 1, 0).await?.total,
            not_resynced => s.service.device_statuses(Some("not_resynced"), "", 1, 0).await?.total,
        })
    };
    let conflicts = async {
        let mut f = one();
        f.filters.push(("conflicts".into(), "true".into()));
        s.service.find_users(&f).await.map(|p| p.total)
    };
    match (
        counts.await,
        status.await,
        conflicts.await,
        s.service.cluster().await,
    ) {
        (Ok(counts), Ok(status), Ok(conflicts), Ok(cluster)) => render(
            "dashboard.html",
            c.page(
                "",
                "Overview",
                context! { counts, status, conflicts, nodes => cluster.nodes },
            ),
        ),
        (Err(e), _, _, _) | (_, Err(e), _, _) | (_, _, Err(e), _) | (_, _, _, Err(e)) => {
            c.failed(e)
        }
    }
}
