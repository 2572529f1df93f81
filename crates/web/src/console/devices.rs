//! Phones and device profiles in the console: one form for both (the device's fields, its lines
//! on their buttons, the IP phone services it subscribes to), its page, the stale edit, delete.
//! The form becomes the JSON the API takes, so the service checks it as it checks the API's.

use super::records::{field, inputs, json, json_of, key, parse, values_of, Field, Input};
use super::*;
use serde_json::{Map, Value as Json};

const PHONE_FIELDS: &[Field] = &[
    key("mac", "MAC address", Input::Text),
    key("model", "Model", Input::Model(false)),
    key(
        "system",
        "Product system",
        Input::System(SystemKind::CallControl),
    ),
    field("description", "Description", Input::Text),
    field("device_pool", "Device pool", Input::Text),
    field("owner_user_id", "Owner (user ID)", Input::Text),
    field("calling_search_space", "Calling search space", Input::Text),
    field("location", "Location", Input::Text),
    field("button_template", "Phone button template", Input::Text),
    field("softkey_template", "Softkey template", Input::Text),
    field(
        "dnd",
        "Do not disturb",
        Input::Choice(&["off", "call_reject", "ringer_off"]),
    ),
    field(
        "expansion_modules",
        "Expansion modules (commas between: 7914, 7914)",
        Input::List,
    ),
];

const PROFILE_FIELDS: &[Field] = &[
    key("name", "Name", Input::Text),
    key("model", "Model", Input::Model(true)),
    key(
        "system",
        "Product system",
        Input::System(SystemKind::CallControl),
    ),
    field("description", "Description", Input::Text),
    field("button_template", "Phone button template", Input::Text),
    field("softkey_template", "Softkey template", Input::Text),
    field(
        "expansion_modules",
        "Expansion modules (commas between: 7914, 7914)",
        Input::List,
    ),
];

/// A phone or a device profile.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Dev {
    Phone,
    Profile,
}

impl Dev {
    fn here(self) -> &'static str {
        match self {
            Dev::Phone => "phones",
            Dev::Profile => "device-profiles",
        }
    }
    fn noun(self) -> &'static str {
        match self {
            Dev::Phone => "phone",
            Dev::Profile => "device profile",
        }
    }
    fn title(self) -> &'static str {
        match self {
            Dev::Phone => "Phone",
            Dev::Profile => "Device profile",
        }
    }
    fn resource(self) -> &'static str {
        match self {
            Dev::Phone => "phone",
            Dev::Profile => "device_profile",
        }
    }
    fn fields(self) -> &'static [Field] {
        match self {
            Dev::Phone => PHONE_FIELDS,
            Dev::Profile => PROFILE_FIELDS,
        }
    }
    fn path(self, name: &str) -> String {
        format!("/{}/{}", self.here(), urlencode(name))
    }

    async fn get(self, s: &AppState, name: &str) -> service::Result<Json> {
        match self {
            Dev::Phone => json(s.service.phone(name).await?),
            Dev::Profile => json(s.service.device_profile(name).await?),
        }
    }
    async fn create(self, s: &AppState, a: &Actor, m: Map<String, Json>) -> service::Result<Json> {
        match self {
            Dev::Phone => json(s.service.create_phone(a, parse(m)?).await?),
            Dev::Profile => json(s.service.create_device_profile(a, parse(m)?).await?),
        }
    }
    async fn update(
        self,
        s: &AppState,
        a: &Actor,
        name: &str,
        m: Map<String, Json>,
    ) -> service::Result<Json> {
        match self {
            Dev::Phone => json(s.service.update_phone(a, name, parse(m)?).await?),
            Dev::Profile => json(s.service.update_device_profile(a, name, parse(m)?).await?),
        }
    }
    async fn delete(self, s: &AppState, a: &Actor, name: &str) -> service::Result<()> {
        match self {
            Dev::Phone => s.service.delete_phone(a, name).await,
            Dev::Profile => s.service.delete_device_profile(a, name).await,
        }
    }
}

/// One line row of the form: the line, and how it shows on its button.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub(super) struct LineRow {
    pub pattern: String,
    pub partition: String,
    pub label: String,
    pub display: String,
    pub external_mask: String,
    /// The button it is on; empty: the next free one.
    pub button: String,
}

const LINE_PARTS: &[&str] = &[
    "pattern",
    "partition",
    "label",
    "display",
    "external_mask",
    "button",
];

/// The device form's values, as the browser sent them or as a stored device has them.
#[derive(Debug, Default, serde::Serialize)]
pub(super) struct DeviceForm {
    pub csrf: String,
    pub version: i64,
    /// The device's fields ([`PHONE_FIELDS`], [`PROFILE_FIELDS`]), as typed.
    pub values: BTreeMap<String, String>,
    pub lines: Vec<LineRow>,
    /// The services ticked.
    pub services: Vec<String>,
}

impl DeviceForm {
    pub(super) fn parse(pairs: Vec<(String, String)>) -> DeviceForm {
        let mut f = DeviceForm::default();
        for (k, v) in pairs {
            match k.as_str() {
                "csrf" => f.csrf = v,
                "version" => f.version = v.parse().unwrap_or(0),
                "service" => f.services.push(v),
                k => {
                    let line = k
                        .strip_prefix("line")
                        .and_then(|r| r.split_once('_'))
                        .and_then(|(i, w)| {
                            i.parse::<usize>().ok().filter(|i| *i < 200).map(|i| (i, w))
                        });
                    match line {
                        Some((i, what)) => {
                            if f.lines.len() <= i {
                                f.lines.resize(i + 1, LineRow::default());
                            }
                            let row = &mut f.lines[i];
                            match what {
                                "pattern" => row.pattern = v,
                                "partition" => row.partition = v,
                                "label" => row.label = v,
                                "display" => row.display = v,
                                "external_mask" => row.external_mask = v,
                                "button" => row.button = v,
                                _ => {}
                            }
                        }
                        None => {
                            f.values.insert(k.to_string(), v);
                        }
                    }
                }
            }
        }
        f
    }

    fn of(dev: Dev, r: &Json) -> DeviceForm {
        let text = |v: &Json| v.as_str().unwrap_or("").to_string();
        DeviceForm {
            version: r["version"].as_i64().unwrap_or(0),
            values: values_of(r, dev.fields()),
            lines: r["lines"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|l| LineRow {
                    pattern: text(&l["pattern"]),
                    partition: text(&l["partition"]),
                    label: text(&l["label"]),
                    display: text(&l["display"]),
                    external_mask: text(&l["external_mask"]),
                    button: l["button"].to_string(),
                })
                .collect(),
            services: r["services"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|x| text(&x["service"]))
                .collect(),
            ..Default::default()
        }
    }

    /// The request's JSON: the fields, the lines in button order (empty rows left out) and the
    /// services ticked (a service the device had keeps its label and parameters).
    fn json(
        &self,
        dev: Dev,
        adding: bool,
        stored: Option<&Json>,
    ) -> Result<Map<String, Json>, String> {
        let mut m = json_of(&self.values, dev.fields(), adding)?;
        let mut lines = Vec::new();
        for (i, l) in self.lines.iter().enumerate() {
            if l.pattern.trim().is_empty() {
                continue;
            }
            let mut a = Map::new();
            for (k, v) in [
                ("pattern", &l.pattern),
                ("partition", &l.partition),
                ("label", &l.label),
                ("display", &l.display),
                ("external_mask", &l.external_mask),
            ] {
                a.insert(k.into(), v.trim().into());
            }
            let button = l.button.trim();
            if !button.is_empty() {
                let n: i64 = button.parse().map_err(|_| {
                    format!("line {}: button `{button}` is not a whole number", i + 1)
                })?;
                a.insert("button".into(), n.into());
            }
            lines.push(Json::Object(a));
        }
        m.insert("lines".into(), Json::Array(lines));
        let had: Vec<&Json> = stored
            .map(|r| r["services"].as_array().into_iter().flatten().collect())
            .unwrap_or_default();
        let services = self
            .services
            .iter()
            .map(|name| {
                had.iter()
                    .find(|x| x["service"] == name.as_str())
                    .map(|x| (*x).clone())
                    .unwrap_or_else(|| serde_json::json!({ "service": name }))
            })
            .collect();
        m.insert("services".into(), Json::Array(services));
        Ok(m)
    }

    /// At least `rows` line rows, the last of them empty, to add a line with.
    fn with_room(mut self, rows: usize) -> DeviceForm {
        while self.lines.len() < rows || self.lines.last().is_some_and(|l| !l.pattern.is_empty()) {
            self.lines.push(LineRow::default());
        }
        self
    }

    /// The lines in one line of text (for the stale-edit page).
    fn lines_text(&self) -> String {
        self.lines
            .iter()
            .filter(|l| !l.pattern.is_empty())
            .map(|l| format!("{} {}", l.pattern, l.label).trim().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The IP phone services a device may subscribe to: those of its system (any, when adding).
async fn services(s: &AppState, system: Option<&str>) -> Vec<String> {
    let f = model::Find {
        limit: 1000,
        ..Default::default()
    };
    let mut names: Vec<String> = s
        .service
        .find_services(&f)
        .await
        .map(|p| {
            p.items
                .into_iter()
                .filter(|x| system.is_none_or(|sys| x.system == sys))
                .map(|x| x.name)
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names.dedup();
    names
}

async fn form(
    s: &AppState,
    c: &Console,
    dev: Dev,
    editing: Option<(&str, &str)>,
    f: DeviceForm,
    error: Option<String>,
) -> Response {
    let adding = editing.is_none();
    let fields = inputs(s, dev.fields(), &f.values, adding).await;
    let offered = services(s, editing.map(|(_, system)| system)).await;
    let (heading, action) = match editing {
        Some((name, _)) => (format!("Edit {} {name}", dev.noun()), dev.path(name)),
        None => (format!("Add a {}", dev.noun()), format!("/{}", dev.here())),
    };
    let status = form_status(&error);
    let f = f.with_room(if adding { 2 } else { 1 });
    (
        status,
        render(
            "device_form.html",
            c.page(
                dev.here(),
                &heading,
                context! { heading, action, back => action.clone(), adding, fields, offered, version => f.version, form => f, error },
            ),
        ),
    )
        .into_response()
}

/// The rows of a device's page.
fn rows(dev: Dev, r: &Json) -> Vec<Value> {
    let text = |k: &str| r[k].as_str().unwrap_or("").to_string();
    let mut rows = vec![
        context! { label => "Model", value => format!("{} ({})", text("model"), text("protocol")), id => "model" },
    ];
    if dev == Dev::Phone {
        rows.push(context! { label => "MAC address", value => text("mac"), id => "mac" });
    }
    rows.push(context! { label => "Product system", value => text("system"), id => "system" });
    let values = values_of(r, dev.fields());
    for f in dev.fields().iter().filter(|f| !f.new_only) {
        if f.name == "owner_user_id" && !values[f.name].is_empty() {
            let href = format!(
                "/users/{}?system={}",
                urlencode(&values[f.name]),
                urlencode(&text("system"))
            );
            rows.push(context! { label => f.shown(), id => f.name, links => links([(href, values[f.name].clone())]) });
        } else {
            rows.push(
                context! { label => f.shown(), value => f.shown_value(&values[f.name]), id => f.name },
            );
        }
    }
    let services: Vec<String> = r["services"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|x| x["service"].as_str().unwrap_or("").to_string())
        .collect();
    rows.push(
        context! { label => "IP phone services", value => services.join(", "), id => "services" },
    );
    let system = text("system");
    let users = |k: &str| {
        links(
            r[k].as_array()
                .into_iter()
                .flatten()
                .filter_map(|u| u.as_str())
                .map(|u| {
                    (
                        format!("/users/{}?system={}", urlencode(u), urlencode(&system)),
                        u.to_string(),
                    )
                }),
        )
    };
    match dev {
        Dev::Phone => {
            if let Some(p) = r["primary_phone"].as_str() {
                rows.push(context! { label => "Secondary to", id => "primary", links => links([(format!("/phones/{p}"), p.to_string())]) });
            }
            let secondaries = links(
                r["secondary_phones"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|p| p.as_str())
                    .map(|p| (format!("/phones/{p}"), p.to_string())),
            );
            if !secondaries.is_empty() {
                rows.push(context! { label => "Secondary soft phones", id => "secondaries", links => secondaries });
            }
        }
        Dev::Profile => {
            rows.push(context! { label => "Users", id => "users", links => users("users") });
            let of = links(
                r["logout_profile_of"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|p| p.as_str())
                    .map(|p| (format!("/phones/{p}"), p.to_string())),
            );
            rows.push(context! { label => "Logout profile of", id => "logout", links => of });
        }
    }
    rows.push(context! { label => "Version", version => r["version"].clone(), changed => text("updated_at"), id => "version" });
    rows
}

pub(super) async fn view(s: AppState, c: Console, dev: Dev, name: String) -> Response {
    view_with(s, c, dev, name, None).await
}

/// A device's page, with why a form on it was refused.
pub(super) async fn view_with(
    s: AppState,
    c: Console,
    dev: Dev,
    name: String,
    error: Option<String>,
) -> Response {
    let r = match readable(&s, &c, dev, &name).await {
        Ok(r) => r,
        Err(page) => return page,
    };
    let status = match dev {
        Dev::Phone => {
            s.flush_seen().await;
            s.service.phone_status(&name).await.ok()
        }
        Dev::Profile => None,
    };
    // Extension mobility, on phones whose model has it.
    let em = match dev {
        Dev::Phone
            if s.service
                .catalog()
                .get(r["model"].as_str().unwrap_or(""))
                .is_some_and(|t| t.device_profile) =>
        {
            s.service.login_state(&name).await.ok()
        }
        _ => None,
    };
    let name = r["name"].as_str().unwrap_or("").to_string();
    let system = r["system"].as_str().unwrap_or("").to_string();
    let a = c.actor();
    let lines: Vec<Value> = r["lines"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|l| {
            let pattern = l["pattern"].as_str().unwrap_or("");
            let partition = l["partition"].as_str().unwrap_or("");
            context! {
                button => l["button"].to_string(), pattern, partition,
                href => line_path(pattern, partition, &system, ""),
                label => l["label"].as_str().unwrap_or(""),
                shared_with => l["shared_with"].as_array().into_iter().flatten().filter_map(|d| d.as_str()).map(|d| d.to_string()).collect::<Vec<_>>(),
            }
        })
        .collect();
    let heading = format!("{} {name}", dev.title());
    render(
        "device.html",
        c.page(
            dev.here(),
            &heading,
            context! {
                heading,
                stays => "Its lines stay.",
                edit => a.may(&system, dev.resource(), "update").then(|| format!("{}/edit", dev.path(&name))),
                delete => a.may(&system, dev.resource(), "delete").then(|| format!("{}/delete", dev.path(&name))),
                back => format!("/{}", dev.here()),
                back_label => format!("All {}s", dev.noun()),
                rows => rows(dev, &r),
                lines,
                status,
                em,
                error,
                may_login => a.may(&system, dev.resource(), "update"),
            },
        ),
    )
}

#[derive(serde::Deserialize, Default)]
pub(super) struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    user_id: String,
    #[serde(default)]
    pin: String,
}

/// Logs a user in on a phone (with their PIN), or whoever is logged in out.
pub(super) async fn phone_login(
    State(s): State<AppState>,
    c: Console,
    Path((name, what)): Path<(String, String)>,
    Form(f): Form<LoginForm>,
) -> Response {
    if let Some(r) = c.forged(&f.csrf) {
        return r;
    }
    let r = match what.as_str() {
        "login" => {
            let req = model::extension_mobility::LoginRequest {
                user_id: f.user_id.trim().to_string(),
                pin: model::Secret::new(f.pin),
            };
            s.service.login(c.actor(), &name, &req).await
        }
        _ => s.service.logout(c.actor(), &name).await,
    };
    match r {
        Ok(_) => Redirect::to(&format!("/phones/{}", urlencode(&name))).into_response(),
        Err(e @ service::Error::Forbidden(_)) => c.failed(e),
        Err(e) => view_with(s, c, Dev::Phone, name, Some(e.to_string())).await,
    }
}

pub(super) async fn new(s: AppState, c: Console, dev: Dev) -> Response {
    let mut f = DeviceForm::default();
    // The phone most bought today; a profile's list starts with the first model that has one.
    if dev == Dev::Phone {
        f.values.insert("model".into(), "8861".into());
    }
    form(&s, &c, dev, None, f, None).await
}

pub(super) async fn create(
    s: AppState,
    c: Console,
    dev: Dev,
    pairs: Vec<(String, String)>,
) -> Response {
    let f = DeviceForm::parse(pairs);
    if let Some(r) = c.forged(&f.csrf) {
        return r;
    }
    let r = match f.json(dev, true, None) {
        Ok(m) => dev.create(&s, c.actor(), m).await,
        Err(message) => return form(&s, &c, dev, None, f, Some(message)).await,
    };
    match r {
        Ok(r) => Redirect::to(&dev.path(r["name"].as_str().unwrap_or(""))).into_response(),
        Err(e @ service::Error::Forbidden(_)) => c.failed(e),
        Err(e) => {
            let message = field_message(&e);
            form(&s, &c, dev, None, f, Some(message)).await
        }
    }
}

/// A device the administrator may see: one of another system is refused.
async fn readable(
    s: &AppState,
    c: &Console,
    dev: Dev,
    name: &str,
) -> Result<serde_json::Value, Response> {
    let r = dev.get(s, name).await.map_err(|e| c.failed(e))?;
    let system = r["system"].as_str().unwrap_or("");
    if !c.actor().may_read(system, dev.resource()) {
        let why = crate::auth::cannot_read(c.actor(), dev.resource(), Some(system));
        return Err(c.error(
            StatusCode::FORBIDDEN,
            "Not yours to see",
            &why.detail.message,
        ));
    }
    Ok(r)
}

pub(super) async fn edit(s: AppState, c: Console, dev: Dev, name: String) -> Response {
    match readable(&s, &c, dev, &name).await {
        Ok(r) => {
            let system = r["system"].as_str().unwrap_or("").to_string();
            let name = r["name"].as_str().unwrap_or("").to_string();
            form(
                &s,
                &c,
                dev,
                Some((&name, &system)),
                DeviceForm::of(dev, &r),
                None,
            )
            .await
        }
        Err(page) => page,
    }
}

pub(super) async fn update(
    s: AppState,
    c: Console,
    dev: Dev,
    name: String,
    pairs: Vec<(String, String)>,
) -> Response {
    let f = DeviceForm::parse(pairs);
    if let Some(r) = c.forged(&f.csrf) {
        return r;
    }
    let stored = match dev.get(&s, &name).await {
        Ok(r) => r,
        Err(e) => return c.failed(e),
    };
    let system = stored["system"].as_str().unwrap_or("").to_string();
    let r = match f.json(dev, false, Some(&stored)) {
        Ok(mut m) => {
            m.insert("version".into(), f.version.into());
            dev.update(&s, c.actor(), &name, m).await
        }
        Err(message) => return form(&s, &c, dev, Some((&name, &system)), f, Some(message)).await,
    };
    match r {
        Ok(r) => Redirect::to(&dev.path(r["name"].as_str().unwrap_or(""))).into_response(),
        // Someone saved it meanwhile: both versions, and the choice.
        Err(service::Error::Stale { .. }) => {
            let now = DeviceForm::of(dev, &stored);
            let shown = dev.fields().iter().filter(|x| !x.new_only);
            let mut rows: Vec<Value> = shown
                .clone()
                .map(|x| {
                    row(
                        x.label,
                        f.values.get(x.name).map(String::as_str).unwrap_or(""),
                        &now.values[x.name],
                    )
                })
                .collect();
            rows.push(row("Lines", &f.lines_text(), &now.lines_text()));
            rows.push(row(
                "IP phone services",
                &f.services.join(", "),
                &now.services.join(", "),
            ));
            let mut hidden: Vec<Value> = shown
                .map(|x| {
                    self::hidden(
                        x.name,
                        f.values.get(x.name).map(String::as_str).unwrap_or(""),
                    )
                })
                .collect();
            for (i, l) in f.lines.iter().enumerate() {
                let parts = [
                    &l.pattern,
                    &l.partition,
                    &l.label,
                    &l.display,
                    &l.external_mask,
                    &l.button,
                ];
                for (part, v) in LINE_PARTS.iter().zip(parts) {
                    hidden.push(self::hidden(&format!("line{i}_{part}"), v));
                }
            }
            for x in &f.services {
                hidden.push(self::hidden("service", x));
            }
            stale(
                &c,
                dev.here(),
                dev.noun(),
                &name,
                f.version,
                now.version,
                rows,
                hidden,
                &dev.path(&name),
            )
        }
        Err(e @ service::Error::Forbidden(_)) => c.failed(e),
        Err(e) => {
            let message = field_message(&e);
            form(&s, &c, dev, Some((&name, &system)), f, Some(message)).await
        }
    }
}

pub(super) async fn delete(
    s: AppState,
    c: Console,
    dev: Dev,
    name: String,
    csrf: String,
) -> Response {
    if let Some(r) = c.forged(&csrf) {
        return r;
    }
    match dev.delete(&s, c.actor(), &name).await {
        Ok(()) => Redirect::to(&format!("/{}", dev.here())).into_response(),
        Err(e) => c.failed(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_forms_read_numbered_lines_and_make_the_request() {
        let f = DeviceForm::parse(vec![
            ("line1_pattern".into(), "2001".into()),
            ("line0_pattern".into(), "2000".into()),
            ("line0_label".into(), "Main".into()),
            ("line0_button".into(), "3".into()),
            ("line9999_pattern".into(), "x".into()),
            ("line2_pattern".into(), " ".into()),
            ("description".into(), "Desk".into()),
            ("expansion_modules".into(), "7914, 7914".into()),
            ("service".into(), "Weather".into()),
            ("service".into(), "News".into()),
        ]);
        let stored = serde_json::json!({"services": [{"service": "News", "label": "Headlines", "parameters": {"city": "Oslo"}}]});
        let m = f.json(Dev::Phone, false, Some(&stored)).unwrap();
        let j = Json::Object(m.clone());
        assert_eq!(j["lines"].as_array().unwrap().len(), 2, "{j}");
        assert_eq!(
            (
                j["lines"][0]["pattern"].as_str(),
                j["lines"][0]["button"].as_i64()
            ),
            (Some("2000"), Some(3))
        );
        assert_eq!(j["lines"][1]["pattern"], "2001");
        assert!(j["lines"][1].get("button").is_none());
        assert_eq!(j["expansion_modules"], serde_json::json!(["7914", "7914"]));
        assert_eq!(j["services"][0], serde_json::json!({"service": "Weather"}));
        assert_eq!(
            j["services"][1]["label"], "Headlines",
            "a kept service keeps its settings"
        );
        // What it makes is a patch the API takes.
        let _: PhonePatch = parse(m).unwrap();

        let bad = DeviceForm::parse(vec![
            ("line0_pattern".into(), "2000".into()),
            ("line0_button".into(), "first".into()),
        ]);
        assert_eq!(
            bad.json(Dev::Phone, true, None).unwrap_err(),
            "line 1: button `first` is not a whole number"
        );
    }
}
