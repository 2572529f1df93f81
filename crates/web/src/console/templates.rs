//! Templates: their pages, and applying one to a found set.

use super::*;

/// Past this many records, applying a template warns that it may take a while.
pub(super) const MANY: usize = 100;

pub(super) fn what(kind: TemplateKind) -> &'static str {
    match kind {
        TemplateKind::User => "users",
        TemplateKind::Phone => "phones",
        TemplateKind::DeviceProfile => "device profiles",
    }
}

pub(super) async fn template(
    State(s): State<AppState>,
    c: Console,
    Path((kind, name)): Path<(String, String)>,
) -> Response {
    let kind = match TemplateKind::parse(&kind) {
        Ok(k) => k,
        Err(e) => return c.failed(e.into()),
    };
    match s.service.template(kind, &name).await {
        Ok(t) => render(
            "template.html",
            c.page(
                "templates",
                &format!("Template {}", t.name),
                context! {
                    may_apply => c.actor().may_somewhere(kind.as_str(), "update"),
                    may_change => c.actor().may("", "template", "update"),
                    what => what(kind),
                    t,
                },
            ),
        ),
        Err(e) => c.failed(e),
    }
}

/// The template form's values.
#[derive(serde::Deserialize, serde::Serialize, Default)]
#[serde(default)]
pub(super) struct TemplateForm {
    pub(super) csrf: String,
    pub(super) version: i64,
    pub(super) kind: String,
    pub(super) name: String,
    pub(super) description: String,
    /// `FIELD=VALUE` lines.
    pub(super) fields: String,
}

impl TemplateForm {
    fn of(t: &Template) -> TemplateForm {
        TemplateForm {
            version: t.version,
            kind: t.kind.as_str().into(),
            name: t.name.clone(),
            description: t.description.clone(),
            fields: t
                .fields
                .iter()
                .map(|(k, v)| match v {
                    serde_json::Value::String(s) => format!("{k}={s}"),
                    other => format!("{k}={other}"),
                })
                .collect::<Vec<_>>()
                .join("\n"),
            ..Default::default()
        }
    }

    /// The fields: a value that reads as JSON is JSON, any other is text.
    fn fields(&self) -> Result<serde_json::Map<String, serde_json::Value>, String> {
        let mut m = serde_json::Map::new();
        for (i, line) in self
            .fields
            .lines()
            .map(str::trim)
            .enumerate()
            .filter(|(_, l)| !l.is_empty())
        {
            let (k, v) = line
                .split_once('=')
                .ok_or_else(|| format!("fields, line {}: `{line}`: write FIELD=VALUE", i + 1))?;
            let v = serde_json::from_str(v.trim())
                .unwrap_or_else(|_| serde_json::Value::from(v.trim()));
            m.insert(k.trim().to_string(), v);
        }
        Ok(m)
    }
}

pub(super) fn template_form(
    c: &Console,
    editing: bool,
    form: &TemplateForm,
    error: Option<String>,
) -> Response {
    let kinds: Vec<&str> = TemplateKind::ALL.iter().map(|k| k.as_str()).collect();
    let status = form_status(&error);
    (
        status,
        render(
            "template_form.html",
            c.page(
                "templates",
                "Template",
                context! { editing, form, kinds, error },
            ),
        ),
    )
        .into_response()
}

pub(super) async fn new_template(c: Console) -> Response {
    let form = TemplateForm {
        kind: "phone".into(),
        ..Default::default()
    };
    template_form(&c, false, &form, None)
}

pub(super) async fn create_template(
    State(s): State<AppState>,
    c: Console,
    Form(f): Form<TemplateForm>,
) -> Response {
    if let Some(r) = c.forged(&f.csrf) {
        return r;
    }
    let r = match (TemplateKind::parse(&f.kind), f.fields()) {
        (Ok(kind), Ok(fields)) => {
            let req = NewTemplate {
                kind,
                name: f.name.clone(),
                description: f.description.clone(),
                fields,
            };
            s.service
                .create_template(c.actor(), req)
                .await
                .map_err(|e| field_message(&e))
        }
        (Err(e), _) => Err(e.to_string()),
        (_, Err(e)) => Err(e),
    };
    match r {
        Ok(t) => Redirect::to(&format!(
            "/templates/{}/{}",
            t.kind.as_str(),
            urlencode(&t.name)
        ))
        .into_response(),
        Err(e) => template_form(&c, false, &f, Some(e)),
    }
}

pub(super) async fn edit_template(
    State(s): State<AppState>,
    c: Console,
    Path((kind, name)): Path<(String, String)>,
) -> Response {
    let kind = match TemplateKind::parse(&kind) {
        Ok(k) => k,
        Err(e) => return c.failed(e.into()),
    };
    match s.service.template(kind, &name).await {
        Ok(t) => template_form(&c, true, &TemplateForm::of(&t), None),
        Err(e) => c.failed(e),
    }
}

pub(super) async fn update_template(
    State(s): State<AppState>,
    c: Console,
    Path((kind, name)): Path<(String, String)>,
    Form(f): Form<TemplateForm>,
) -> Response {
    if let Some(r) = c.forged(&f.csrf) {
        return r;
    }
    let kind = match TemplateKind::parse(&kind) {
        Ok(k) => k,
        Err(e) => return c.failed(e.into()),
    };
    let fields = match f.fields() {
        Ok(x) => x,
        Err(e) => return template_form(&c, true, &f, Some(e)),
    };
    let p = TemplatePatch {
        version: f.version,
        name: Some(f.name.clone()),
        description: Some(f.description.clone()),
        fields: Some(fields),
    };
    match s.service.update_template(c.actor(), kind, &name, p).await {
        Ok(t) => Redirect::to(&format!(
            "/templates/{}/{}",
            t.kind.as_str(),
            urlencode(&t.name)
        ))
        .into_response(),
        Err(service::Error::Stale { .. }) => match s.service.template(kind, &name).await {
            Ok(now) => {
                let stored = TemplateForm::of(&now);
                let rows = vec![
                    row("Name", &f.name, &stored.name),
                    row("Description", &f.description, &stored.description),
                    row("Fields", &f.fields, &stored.fields),
                ];
                let hidden = vec![
                    hidden("kind", &f.kind),
                    hidden("name", &f.name),
                    hidden("description", &f.description),
                    hidden("fields", &f.fields),
                ];
                let path = format!("/templates/{}/{}", kind.as_str(), urlencode(&name));
                stale(
                    &c,
                    "templates",
                    "template",
                    &name,
                    f.version,
                    now.version,
                    rows,
                    hidden,
                    &path,
                )
            }
            Err(e) => c.failed(e),
        },
        Err(e @ service::Error::Forbidden(_)) => c.failed(e),
        Err(e) => template_form(&c, true, &f, Some(field_message(&e))),
    }
}

pub(super) async fn delete_template(
    State(s): State<AppState>,
    c: Console,
    Path((kind, name)): Path<(String, String)>,
    Form(f): Form<CsrfForm>,
) -> Response {
    if let Some(r) = c.forged(&f.csrf) {
        return r;
    }
    let kind = match TemplateKind::parse(&kind) {
        Ok(k) => k,
        Err(e) => return c.failed(e.into()),
    };
    match s.service.delete_template(c.actor(), kind, &name).await {
        Ok(()) => Redirect::to("/templates").into_response(),
        Err(e) => c.failed(e),
    }
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub(super) struct ApplyForm {
    pub(super) csrf: String,
    pub(super) q: String,
}

/// The records a template would be applied to: those whose name starts with `q`.
pub(super) async fn apply_targets(
    s: &AppState,
    kind: TemplateKind,
    q: &str,
) -> service::Result<Vec<String>> {
    if q.trim().is_empty() {
        return Ok(Vec::new());
    }
    let f = model::Find {
        q: Some(q.trim().to_string()),
        ..Default::default()
    };
    s.service.found_keys(kind, f).await
}

pub(super) async fn confirm_apply(
    State(s): State<AppState>,
    c: Console,
    Path((kind, name)): Path<(String, String)>,
    Query(f): Query<ApplyForm>,
) -> Response {
    let kind = match TemplateKind::parse(&kind) {
        Ok(k) => k,
        Err(e) => return c.failed(e.into()),
    };
    let t = match s.service.template(kind, &name).await {
        Ok(t) => t,
        Err(e) => return c.failed(e),
    };
    match apply_targets(&s, kind, &f.q).await {
        Ok(targets) => {
            let n = targets.len();
            let path = format!("/templates/{}/{}", kind.as_str(), urlencode(&t.name));
            render(
                "confirm.html",
                c.page(
                    "templates",
                    &format!("Apply {}", t.name),
                    context! {
                        heading => format!("Apply {} to {n} {}", t.name, what(kind)),
                        none => format!("No {} name starts with “{}”.", what(kind), f.q),
                        verb => "changes", many => n > MANY, targets,
                        action => format!("{path}/apply"), hidden => vec![hidden("q", &f.q)],
                        button => format!("Apply to {}", model::counted(n, "record", "records")), back => path,
                    },
                ),
            )
        }
        Err(e) => c.failed(e),
    }
}

pub(super) async fn apply(
    State(s): State<AppState>,
    c: Console,
    Path((kind, name)): Path<(String, String)>,
    Form(f): Form<ApplyForm>,
) -> Response {
    if let Some(r) = c.forged(&f.csrf) {
        return r;
    }
    let kind = match TemplateKind::parse(&kind) {
        Ok(k) => k,
        Err(e) => return c.failed(e.into()),
    };
    let r = match apply_targets(&s, kind, &f.q).await {
        Ok(targets) => {
            s.service
                .apply_template(c.actor(), kind, &name, &targets, None)
                .await
        }
        Err(e) => Err(e),
    };
    let link = match kind {
        TemplateKind::User => "/users?q=",
        TemplateKind::Phone => "/phones/",
        TemplateKind::DeviceProfile => "/device-profiles?q=",
    };
    match r {
        Ok(r) => render(
            "batch.html",
            c.page(
                "templates",
                "Template applied",
                context! { heading => format!("Template {name} applied"), done => "changed", link, r },
            ),
        ),
        Err(e) => c.failed(e),
    }
}
