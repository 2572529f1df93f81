//! Firmware (docs/firmware.md): the files of the firmware folder with their upload, the load
//! chosen per model (system, device pool, phone), and the phones not on their load.

use super::*;
use model::firmware::{LoadChoice, LoadScope};

#[derive(serde::Deserialize, Default)]
pub(super) struct FirmwareQuery {
    #[serde(default)]
    done: String,
}

/// `/firmware`.
pub(super) async fn firmware_page(
    State(s): State<AppState>,
    c: Console,
    Query(q): Query<FirmwareQuery>,
) -> Response {
    let done = match q.done.as_str() {
        "uploaded" => Some("The file is in the firmware folder."),
        "deleted" => Some("The file is deleted."),
        "chosen" => Some("The load is chosen: its phones get new files and a resync."),
        "removed" => Some("The choice is removed."),
        _ => None,
    };
    firmware(&s, &c, done, None).await
}

async fn firmware(
    s: &AppState,
    c: &Console,
    done: Option<&str>,
    error: Option<String>,
) -> Response {
    let fw = match s.service.firmware().await {
        Ok(f) => f,
        Err(e) => return c.failed(e),
    };
    let off = match s.service.phones_off_load().await {
        Ok(o) => o,
        Err(e) => return c.failed(e),
    };
    let models: Vec<&str> = s
        .service
        .catalog()
        .devices()
        .filter(|t| t.family != model::DeviceFamily::SoftClient)
        .map(|t| t.model.as_str())
        .collect();
    let systems = users::systems_of_kind(s, model::SystemKind::CallControl).await;
    let scope_label = |sc: LoadScope| match sc {
        LoadScope::System => "Every phone of the model",
        LoadScope::DevicePool => "Device pool",
        LoadScope::Device => "Phone",
    };
    let choices: Vec<Value> = fw
        .choices
        .iter()
        .map(|ch| {
            context! {
                system => ch.system, model => ch.model, scope => ch.scope.as_str(),
                scope_label => scope_label(ch.scope), target => ch.target, load => ch.load,
            }
        })
        .collect();
    let off: Vec<Value> = off
        .iter()
        .map(|p| {
            context! {
                phone => p.phone, model => p.model, chosen => p.chosen,
                chosen_by => scope_label(p.chosen_by), running => p.running,
            }
        })
        .collect();
    let files: Vec<Value> = fw
        .files
        .iter()
        .map(|f| context! { name => f.name, size => human_bytes(f.bytes), bytes => f.bytes, modified => f.modified, load => f.load })
        .collect();
    let a = c.actor();
    let mut r = render(
        "firmware.html",
        c.page(
            "firmware",
            "Firmware",
            context! {
                folder => fw.folder, files, loads => fw.loads, choices, off, models,
                show_system => systems.len() > 1, systems,
                may_upload => a.may("", "firmware", "create"),
                may_delete => a.may("", "firmware", "delete"),
                may_choose => a.may_somewhere("firmware", "update"),
                done, error => error.clone(),
            },
        ),
    );
    if error.is_some() {
        *r.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    r
}

/// `1.4 MB`, `700 KB`, `12 bytes`.
fn human_bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 20 => format!("{:.1} MB", n as f64 / f64::from(1 << 20)),
        n if n >= 1 << 10 => format!("{} KB", n >> 10),
        n => format!("{n} bytes"),
    }
}

/// The upload: the CSRF field first, then the file, streamed to the folder as it arrives.
pub(super) async fn upload(State(s): State<AppState>, c: Console, mut form: Multipart) -> Response {
    let mut csrf = String::new();
    loop {
        let field = match form.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                return firmware(&s, &c, None, Some(format!("the upload broke off: {e}"))).await
            }
        };
        match field.name().unwrap_or("") {
            "csrf" => csrf = field.text().await.unwrap_or_default(),
            "file" => {
                if let Some(r) = c.forged(&csrf) {
                    return r;
                }
                let name = field.file_name().unwrap_or("").to_string();
                if name.is_empty() {
                    break;
                }
                let reader = crate::body_reader(field);
                return match s.service.upload_firmware(c.actor(), &name, reader).await {
                    Ok(_) => Redirect::to("/firmware?done=uploaded").into_response(),
                    Err(e) => firmware(&s, &c, None, Some(e.to_string())).await,
                };
            }
            _ => {}
        }
    }
    if let Some(r) = c.forged(&csrf) {
        return r;
    }
    firmware(&s, &c, None, Some("choose the file to upload".into())).await
}

#[derive(serde::Deserialize, Default)]
pub(super) struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

pub(super) async fn delete(
    State(s): State<AppState>,
    c: Console,
    Path(name): Path<String>,
    Form(f): Form<CsrfForm>,
) -> Response {
    if let Some(r) = c.forged(&f.csrf) {
        return r;
    }
    match s.service.delete_firmware(c.actor(), &name).await {
        Ok(()) => Redirect::to("/firmware?done=deleted").into_response(),
        Err(e) => firmware(&s, &c, None, Some(e.to_string())).await,
    }
}

#[derive(serde::Deserialize, Default)]
pub(super) struct ChoiceForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    system: String,
    #[serde(default)]
    model: String,
    #[serde(default)]
    scope: String,
    #[serde(default)]
    target: String,
    #[serde(default)]
    load: String,
}

impl ChoiceForm {
    fn choice(&self) -> Result<LoadChoice, String> {
        let scope = LoadScope::parse(&self.scope).ok_or_else(|| {
            format!(
                "{:?} is not a scope: system, device pool or phone",
                self.scope
            )
        })?;
        Ok(LoadChoice {
            system: self.system.clone(),
            model: self.model.clone(),
            scope,
            target: self.target.clone(),
            load: self.load.clone(),
        })
    }
}

/// Chooses a load (`/firmware/loads`).
pub(super) async fn choose(
    State(s): State<AppState>,
    c: Console,
    Form(f): Form<ChoiceForm>,
) -> Response {
    choice(&s, &c, &f, false).await
}

/// Removes a choice (`/firmware/loads/remove`).
pub(super) async fn unchoose(
    State(s): State<AppState>,
    c: Console,
    Form(f): Form<ChoiceForm>,
) -> Response {
    choice(&s, &c, &f, true).await
}

async fn choice(s: &AppState, c: &Console, f: &ChoiceForm, remove: bool) -> Response {
    if let Some(r) = c.forged(&f.csrf) {
        return r;
    }
    let r = match f.choice() {
        Ok(ch) if remove => s
            .service
            .unchoose_load(c.actor(), &ch)
            .await
            .map_err(|e| e.to_string()),
        Ok(ch) => s
            .service
            .choose_load(c.actor(), &ch)
            .await
            .map(drop)
            .map_err(|e| e.to_string()),
        Err(e) => Err(e),
    };
    match r {
        Ok(()) => Redirect::to(if remove {
            "/firmware?done=removed"
        } else {
            "/firmware?done=chosen"
        })
        .into_response(),
        Err(e) => firmware(s, c, None, Some(e)).await,
    }
}
