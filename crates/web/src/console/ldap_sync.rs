//! An LDAP profile's sync page: the last sync, a dry run and a sync on demand, and the report
//! of the one just run (docs/directory.md).

use super::*;
use model::directory::{LdapSyncRequest, SYNC_REPORT_LIST};

#[derive(serde::Deserialize)]
pub(super) struct SyncForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    dry_run: String,
    #[serde(default)]
    system: String,
}

pub(super) async fn page(
    State(s): State<AppState>,
    c: Console,
    Path(key): Path<String>,
) -> Response {
    show(&s, &c, &key, None).await
}

pub(super) async fn run(
    State(s): State<AppState>,
    c: Console,
    Path(key): Path<String>,
    Form(f): Form<SyncForm>,
) -> Response {
    if let Some(r) = c.forged(&f.csrf) {
        return r;
    }
    let req = LdapSyncRequest {
        dry_run: f.dry_run != "false",
        system: Some(f.system).filter(|s| !s.is_empty()),
    };
    match s.service.sync_ldap_profile(c.actor(), &key, req).await {
        Ok(report) => show(&s, &c, &key, Some(report)).await,
        Err(e) => c.failed(e),
    }
}

async fn show(s: &AppState, c: &Console, key: &str, report: Option<LdapSyncReport>) -> Response {
    let profile = match s.service.ldap_profile(key).await {
        Ok(p) => p,
        Err(e) => return c.failed(e),
    };
    let systems = users::systems_of_kind(s, SystemKind::CallControl).await;
    let a = c.actor();
    let may = a.may("", "user", "create") && a.may("", "user", "update");
    let summary = report.as_ref().map(LdapSyncReport::summary);
    let listed_all = report.as_ref().is_none_or(|r| {
        r.to_create <= SYNC_REPORT_LIST
            && r.to_update <= SYNC_REPORT_LIST
            && r.to_deactivate <= SYNC_REPORT_LIST
            && r.skipped_entries <= SYNC_REPORT_LIST
            && r.failed_users <= SYNC_REPORT_LIST
    });
    let title = format!("Sync LDAP profile {}", profile.name);
    render(
        "ldap_sync.html",
        c.page(
            "ldap-profiles",
            &title,
            context! {
                base => format!("/ldap-profiles/{}", urlencode(&profile.name)),
                profile,
                systems,
                may,
                report,
                summary,
                listed_all,
                list_max => SYNC_REPORT_LIST,
            },
        ),
    )
}
