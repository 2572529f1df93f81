//! The servers soft clients learn of (seed 003; docs/soft-clients.md): presence subclusters and
//! the users' home nodes, proxy profiles, CTI gateway servers and profiles, the settings every
//! soft client shares, and the users' application profiles naming them. Each record is checked
//! by the model; here, that what it names exists (the seed: "create the server profile first"),
//! that nothing still in use goes away, and that soft clients' files are made again.

use crate::{Actor, Audit, Error, Result, Service};
use model::access::{Action, Resource};
use model::soft_client::{
    spread_node, ClientKind, ClientSpec, CtiFromSystems, CtiGatewayProfileSpec,
    CtiGatewayServerSpec, PresenceSubclusterSpec, Rehome, Rehomed, SoftClientSettings,
};
use model::{Naming, Page, SystemKind};
use serde_json::Value as Json;
use store::soft_client::{self as sc, Record, UserRef};

/// Where the shared settings are kept (the settings table).
const SETTINGS: &str = "soft_client.settings";

/// The presence nodes: each with its subcluster and the other node of it (the failover).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresenceNode {
    pub node: String,
    pub subcluster: String,
    pub failover: Option<String>,
}

fn spec_of<T: serde::de::DeserializeOwned + Default>(r: &Record) -> T {
    let mut body = r.body.clone();
    body["name"] = r.name.clone().into();
    serde_json::from_value(body).unwrap_or_default()
}

/// Every node of every subcluster, primary before secondary, by subcluster name.
pub(crate) async fn presence_nodes(conn: &mut store::Conn) -> Result<Vec<PresenceNode>> {
    let mut out = Vec::new();
    for r in sc::all(conn, ClientKind::PresenceSubcluster).await? {
        let s: PresenceSubclusterSpec = spec_of(&r);
        let secondary = Some(s.secondary_node.clone()).filter(|n| !n.is_empty());
        out.push(PresenceNode {
            node: s.primary_node.clone(),
            subcluster: s.name.clone(),
            failover: secondary.clone(),
        });
        if let Some(n) = secondary {
            out.push(PresenceNode {
                node: n,
                subcluster: s.name.clone(),
                failover: Some(s.primary_node.clone()),
            });
        }
    }
    Ok(out)
}

/// A user's home node and failover: the one set, else one of all nodes by [`spread_node`].
pub fn home_of<'a>(
    user_id: &str,
    set: Option<&str>,
    nodes: &'a [PresenceNode],
) -> Option<&'a PresenceNode> {
    if let Some(n) = set {
        if let Some(p) = nodes.iter().find(|p| p.node == n) {
            return Some(p);
        }
    }
    let names: Vec<String> = nodes.iter().map(|p| p.node.clone()).collect();
    let n = spread_node(user_id, &names)?;
    nodes.iter().find(|p| &p.node == n)
}

/// The name of the default CTI gateway profile, if one is.
pub(crate) async fn default_cti_profile(conn: &mut store::Conn) -> Result<Option<String>> {
    Ok(sc::all(conn, ClientKind::CtiGatewayProfile)
        .await?
        .into_iter()
        .find(|r| spec_of::<CtiGatewayProfileSpec>(r).default_profile)
        .map(|r| r.name))
}

impl Service {
    async fn client_by_key(
        &self,
        conn: &mut store::Conn,
        kind: ClientKind,
        key: &str,
    ) -> Result<Record> {
        if let Some(r) = sc::by_name(conn, kind, key).await? {
            return Ok(r);
        }
        if let Ok(id) = key.parse::<i64>() {
            if let Some(r) = sc::by_id(conn, kind, id).await? {
                return Ok(r);
            }
        }
        Err(Error::NotFound(format!(
            "there is no {} {key}",
            kind.noun()
        )))
    }

    /// A record as the API shows it, with who uses it.
    async fn shown(&self, conn: &mut store::Conn, kind: ClientKind, r: &Record) -> Result<Json> {
        let mut j = r.to_json();
        match kind {
            ClientKind::PresenceSubcluster => {
                let s: PresenceSubclusterSpec = spec_of(r);
                let mut users = sc::users_count(conn, UserRef::HomeNode, &s.primary_node).await?;
                if !s.secondary_node.is_empty() {
                    users += sc::users_count(conn, UserRef::HomeNode, &s.secondary_node).await?;
                }
                j["users"] = users.into();
            }
            ClientKind::ProxyProfile => {
                j["users"] = sc::users_count(conn, UserRef::ProxyProfile, &r.name)
                    .await?
                    .into();
            }
            ClientKind::CtiGatewayProfile => {
                j["users"] = sc::users_count(conn, UserRef::CtiProfile, &r.name)
                    .await?
                    .into();
            }
            ClientKind::CtiGatewayServer => {
                j["used_by"] = self.cti_profiles_naming(conn, &r.name).await?.into();
            }
            ClientKind::DialRule => {}
        }
        Ok(j)
    }

    async fn cti_profiles_naming(
        &self,
        conn: &mut store::Conn,
        server: &str,
    ) -> Result<Vec<String>> {
        Ok(sc::all(conn, ClientKind::CtiGatewayProfile)
            .await?
            .iter()
            .filter(|p| {
                let s: CtiGatewayProfileSpec = spec_of(p);
                s.primary == server || s.backups.iter().any(|b| b == server)
            })
            .map(|p| p.name.clone())
            .collect())
    }

    pub async fn find_client_records(
        &self,
        kind: ClientKind,
        f: &model::Find,
    ) -> Result<Page<Json>> {
        let mut c = self.store.read().await?;
        let page = sc::find(&mut c, kind, f).await?;
        let mut items = Vec::with_capacity(page.items.len());
        for r in &page.items {
            items.push(self.shown(&mut c, kind, r).await?);
        }
        Ok(Page {
            items,
            total: page.total,
            total_exact: page.total_exact,
            limit: page.limit,
            offset: page.offset,
        })
    }

    pub async fn client_record(&self, kind: ClientKind, key: &str) -> Result<Json> {
        let mut c = self.store.read().await?;
        let r = self.client_by_key(&mut c, kind, key).await?;
        self.shown(&mut c, kind, &r).await
    }

    fn client_audit(kind: ClientKind, action: Action, target: &str) -> Audit {
        Audit {
            action,
            resource: Resource::of_client(kind),
            target: target.to_string(),
            system: String::new(),
        }
    }

    /// Every soft client's file is to be made again (the records reach them all).
    async fn soft_clients_changed(&self, tx: &mut store::WriteTx) -> Result<()> {
        let models: Vec<String> = self
            .catalog
            .all()
            .filter(|t| t.naming == Naming::Upc)
            .map(|t| t.model.clone())
            .collect();
        for system in sc::call_control_systems(tx.conn()).await? {
            for model in &models {
                tx.changed(store::Change::Model {
                    system,
                    model: model.clone(),
                });
            }
        }
        Ok(())
    }

    /// Checks what `spec` names and what a change from `current` leaves behind, then writes it.
    async fn write_client(
        &self,
        tx: &mut store::WriteTx,
        spec: ClientSpec,
        current: Option<(&Record, i64)>,
    ) -> Result<Json> {
        let kind = spec.kind();
        let name = spec.name().to_string();
        if current.is_none_or(|(c, _)| c.name != name)
            && sc::by_name(tx.conn(), kind, &name).await?.is_some()
        {
            return Err(Error::conflict(
                "name",
                format!("{} {name} already exists", kind.noun()),
            ));
        }
        for (i, (k, n)) in spec.names().into_iter().enumerate() {
            if sc::by_name(tx.conn(), k, n).await?.is_none() {
                let field = if i == 0 {
                    "primary".to_string()
                } else {
                    format!("backups[{}]", i - 1)
                };
                return Err(Error::invalid(
                    field,
                    format!(
                        "there is no {} {n}: add it first (POST /api/v1/{})",
                        k.noun(),
                        k.path()
                    ),
                ));
            }
        }
        match &spec {
            ClientSpec::PresenceSubcluster(s) => {
                for p in presence_nodes(tx.conn()).await? {
                    if current.is_some_and(|(c, _)| c.name == p.subcluster) {
                        continue;
                    }
                    for (field, n) in [
                        ("primary_node", &s.primary_node),
                        ("secondary_node", &s.secondary_node),
                    ] {
                        if *n == p.node {
                            return Err(Error::conflict(
                                field,
                                format!("{n} is a node of presence subcluster {} already: a node is in one subcluster", p.subcluster),
                            ));
                        }
                    }
                }
                if let Some((c, _)) = current {
                    let before: PresenceSubclusterSpec = spec_of(c);
                    for gone in [&before.primary_node, &before.secondary_node] {
                        if gone.is_empty() || *gone == s.primary_node || *gone == s.secondary_node {
                            continue;
                        }
                        self.no_users_homed(tx.conn(), gone).await?;
                    }
                }
            }
            ClientSpec::CtiGatewayProfile(p) if p.default_profile => {
                // One default profile: this one takes it from the one that had it.
                for other in sc::all(tx.conn(), ClientKind::CtiGatewayProfile).await? {
                    if current.is_some_and(|(c, _)| c.id == other.id) {
                        continue;
                    }
                    let mut o: CtiGatewayProfileSpec = spec_of(&other);
                    if o.default_profile {
                        o.default_profile = false;
                        let body = serde_json::to_value(&o).unwrap_or_default();
                        sc::update(tx.conn(), other.id, other.version, &other.name, &body).await?;
                    }
                }
            }
            _ => {}
        }
        let body = spec.to_json();
        let id = match current {
            None => sc::insert(tx.conn(), kind, &name, &body).await?,
            Some((c, version)) => {
                if c.name != name {
                    self.renamed(tx, kind, &c.name, &name).await?;
                }
                let written = sc::update(tx.conn(), c.id, version, &name, &body).await;
                crate::unless_stale(written, async || Ok(c.to_json())).await?;
                c.id
            }
        };
        self.soft_clients_changed(tx).await?;
        let r = sc::by_id(tx.conn(), kind, id)
            .await?
            .ok_or_else(|| Error::Internal("a record just written is gone".into()))?;
        self.shown(tx.conn(), kind, &r).await
    }

    /// What a rename takes along: users naming a profile name it anew; a CTI gateway server
    /// named by profiles cannot be renamed under them.
    async fn renamed(
        &self,
        tx: &mut store::WriteTx,
        kind: ClientKind,
        from: &str,
        to: &str,
    ) -> Result<()> {
        let col = match kind {
            ClientKind::CtiGatewayProfile => UserRef::CtiProfile,
            ClientKind::ProxyProfile => UserRef::ProxyProfile,
            ClientKind::CtiGatewayServer => {
                let used = self.cti_profiles_naming(tx.conn(), from).await?;
                if !used.is_empty() {
                    return Err(Error::conflict(
                        "name",
                        format!("CTI gateway profile {} names {from}: take it out of the profile before renaming it", used.join(", ")),
                    ));
                }
                return Ok(());
            }
            ClientKind::PresenceSubcluster | ClientKind::DialRule => return Ok(()),
        };
        for id in sc::rename_in_users(tx.conn(), col, from, to).await? {
            tx.changed(store::Change::Owner(id));
        }
        Ok(())
    }

    async fn no_users_homed(&self, conn: &mut store::Conn, node: &str) -> Result<()> {
        let (n, some) = sc::users_naming(conn, UserRef::HomeNode, node).await?;
        if n > 0 {
            return Err(Error::conflict(
                "name",
                format!(
                    "{} homed on presence node {node} ({}{}): rehome them first (POST /api/v1/presence-subclusters/rehome)",
                    if n == 1 { "1 user is".to_string() } else { format!("{n} users are") },
                    some.join(", "),
                    if n > some.len() as i64 { ", …" } else { "" }
                ),
            ));
        }
        Ok(())
    }

    pub async fn create_client_record(
        &self,
        actor: &Actor,
        kind: ClientKind,
        body: Json,
    ) -> Result<Json> {
        let target = body["name"].as_str().unwrap_or_default().trim().to_string();
        self.change(
            actor,
            Self::client_audit(kind, Action::Create, &target),
            async |tx| {
                let spec = kind.check(body)?;
                self.write_client(tx, spec, None).await
            },
        )
        .await
    }

    /// `patch`: the `version` read and the fields to change; the others stay.
    pub async fn update_client_record(
        &self,
        actor: &Actor,
        kind: ClientKind,
        key: &str,
        patch: Json,
    ) -> Result<Json> {
        let Json::Object(mut patch) = patch else {
            return Err(Error::invalid(
                "",
                "send a JSON object of the fields to change, with `version`",
            ));
        };
        let version = patch
            .remove("version")
            .and_then(|v| v.as_i64())
            .unwrap_or(0);
        crate::need_version(version)?;
        let current = {
            let mut c = self.store.read().await?;
            self.client_by_key(&mut c, kind, key).await?
        };
        self.change(
            actor,
            Self::client_audit(kind, Action::Update, &current.name),
            async |tx| {
                let mut body = current.body.clone();
                body["name"] = current.name.clone().into();
                for (k, v) in patch {
                    body[k.as_str()] = v;
                }
                let spec = kind.check(body)?;
                self.write_client(tx, spec, Some((&current, version))).await
            },
        )
        .await
    }

    pub async fn delete_client_record(
        &self,
        actor: &Actor,
        kind: ClientKind,
        key: &str,
    ) -> Result<()> {
        let current = {
            let mut c = self.store.read().await?;
            self.client_by_key(&mut c, kind, key).await?
        };
        self.change(actor, Self::client_audit(kind, Action::Delete, &current.name), async |tx| {
            let in_use = |n: i64, some: Vec<String>, what: &str| {
                Error::conflict(
                    "name",
                    format!(
                        "{} {} {} {} as their {what} ({}{}): give them another first",
                    model::counted(n, "user", "users"),
                    if n == 1 { "has" } else { "have" },
                        kind.noun(),
                        current.name,
                        some.join(", "),
                        if n > some.len() as i64 { ", …" } else { "" }
                    ),
                )
            };
            match kind {
                ClientKind::PresenceSubcluster => {
                    let s: PresenceSubclusterSpec = spec_of(&current);
                    self.no_users_homed(tx.conn(), &s.primary_node).await?;
                    if !s.secondary_node.is_empty() {
                        self.no_users_homed(tx.conn(), &s.secondary_node).await?;
                    }
                }
                ClientKind::ProxyProfile | ClientKind::CtiGatewayProfile => {
                    let (col, what) = if kind == ClientKind::ProxyProfile {
                        (UserRef::ProxyProfile, "proxy profile")
                    } else {
                        (UserRef::CtiProfile, "CTI profile")
                    };
                    let (n, some) = sc::users_naming(tx.conn(), col, &current.name).await?;
                    if n > 0 {
                        return Err(in_use(n, some, what));
                    }
                }
                ClientKind::CtiGatewayServer => {
                    let used = self.cti_profiles_naming(tx.conn(), &current.name).await?;
                    if !used.is_empty() {
                        return Err(Error::conflict(
                            "name",
                            format!("CTI gateway profile {} names {}: take it out of the profile first", used.join(", "), current.name),
                        ));
                    }
                }
                ClientKind::DialRule => {}
            }
            sc::delete(tx.conn(), current.id).await?;
            self.soft_clients_changed(tx).await?;
            Ok(())
        })
        .await
    }

    /// Moves every user homed on `from_node` to `to_node` (a node of a subcluster); their soft
    /// clients register with the new node when they next read their file.
    pub async fn rehome_presence_users(&self, actor: &Actor, r: Rehome) -> Result<Rehomed> {
        let from = r.from_node.trim().to_ascii_lowercase();
        let to = r.to_node.trim().to_ascii_lowercase();
        let a = Audit {
            action: Action::Update,
            resource: Resource::PresenceSubcluster,
            target: format!("rehome {from} to {to}"),
            system: String::new(),
        };
        self.change(actor, a, async |tx| {
            if from.is_empty() {
                return Err(Error::invalid(
                    "from_node",
                    "name the node the users are homed on now",
                ));
            }
            let nodes = presence_nodes(tx.conn()).await?;
            if !nodes.iter().any(|n| n.node == to) {
                return Err(Error::invalid(
                    "to_node",
                    format!("{to} is not a node of any presence subcluster: add it to one first"),
                ));
            }
            if from == to {
                return Err(Error::invalid(
                    "to_node",
                    "the users are homed there already",
                ));
            }
            let ids = sc::rename_in_users(tx.conn(), UserRef::HomeNode, &from, &to).await?;
            for id in &ids {
                tx.changed(store::Change::Owner(*id));
            }
            Ok(Rehomed {
                from_node: from.clone(),
                to_node: to.clone(),
                users: ids.len() as i64,
            })
        })
        .await
    }

    /// A CTI gateway server for each call-control server not yet known by its host, and a
    /// profile for each call-control system none of whose servers is in one yet (primary and
    /// backups in the system's order; the first made is the default when there is none).
    pub async fn cti_servers_from_systems(&self, actor: &Actor) -> Result<CtiFromSystems> {
        let a = Audit {
            action: Action::Create,
            resource: Resource::CtiGatewayServer,
            target: "from call-control systems".into(),
            system: String::new(),
        };
        self.change(actor, a, async |tx| {
            let mut made = CtiFromSystems::default();
            let systems = store::systems::list(tx.conn()).await?;
            for sys in systems.iter().filter(|s| s.kind == SystemKind::CallControl) {
                let mut names = Vec::new();
                for srv in &sys.settings.servers {
                    let host = srv.host.trim().to_ascii_lowercase();
                    let known = sc::all(tx.conn(), ClientKind::CtiGatewayServer)
                        .await?
                        .into_iter()
                        .find(|r| spec_of::<CtiGatewayServerSpec>(r).host == host);
                    let name = match known {
                        Some(r) => r.name,
                        None => {
                            let spec = ClientKind::CtiGatewayServer.check(serde_json::json!({
                                "name": host,
                                "description": format!("CTIManager of {} (made from the system)", sys.name),
                                "host": host,
                            }))?;
                            self.write_client(tx, spec, None).await?;
                            made.servers.push(host.clone());
                            host
                        }
                    };
                    names.push(name);
                }
                let Some((primary, backups)) = names.split_first() else {
                    continue;
                };
                let profiles = sc::all(tx.conn(), ClientKind::CtiGatewayProfile).await?;
                let covered = profiles.iter().any(|p| {
                    let s: CtiGatewayProfileSpec = spec_of(p);
                    names.contains(&s.primary)
                });
                if covered {
                    continue;
                }
                let has_default = profiles.iter().any(|p| spec_of::<CtiGatewayProfileSpec>(p).default_profile);
                let name = format!("{}-cti-tcp", sys.name);
                let spec = ClientKind::CtiGatewayProfile.check(serde_json::json!({
                    "name": name,
                    "description": format!("CTI over TCP to {}'s servers", sys.name),
                    "primary": primary,
                    "backups": backups.iter().take(model::soft_client::MAX_CTI_BACKUPS).collect::<Vec<_>>(),
                    "default_profile": !has_default,
                }))?;
                self.write_client(tx, spec, None).await?;
                made.profiles.push(name);
            }
            Ok(made)
        })
        .await
    }

    pub async fn soft_client_settings(&self) -> Result<SoftClientSettings> {
        let mut c = self.store.read().await?;
        settings_in(&mut c).await
    }

    pub async fn set_soft_client_settings(
        &self,
        actor: &Actor,
        s: SoftClientSettings,
    ) -> Result<SoftClientSettings> {
        let a = Audit {
            action: Action::Update,
            resource: Resource::SoftClientSettings,
            target: "soft-client settings".into(),
            system: String::new(),
        };
        self.change(actor, a, async |tx| {
            let s = s.checked()?;
            let json = serde_json::to_string(&s).map_err(|e| Error::Internal(e.to_string()))?;
            store::admins::set_setting(tx.conn(), SETTINGS, &json).await?;
            self.soft_clients_changed(tx).await?;
            Ok(s)
        })
        .await
    }

    /// A user's CTI profile, proxy profile, voicemail profile and home node, checked: each
    /// given anew must exist (a name kept from before is kept as it is); a new user without a
    /// CTI profile gets the default one; a soft-client or presence user without a home node is
    /// homed on the node with the fewest users.
    pub(crate) async fn user_client_refs(
        &self,
        conn: &mut store::Conn,
        u: &model::NewUser,
        before: Option<&store::users::UserRow>,
    ) -> Result<(
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    )> {
        let opt = |v: Option<&String>| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
        let kept =
            |new: &Option<String>, old: Option<&Option<String>>| old.is_some_and(|o| o == new);
        let cti = opt(u.app_profiles.cti.as_ref());
        let cti = match cti {
            Some(p) if !kept(&Some(p.clone()), before.map(|b| &b.app_profiles.cti)) => {
                if sc::by_name(conn, ClientKind::CtiGatewayProfile, &p)
                    .await?
                    .is_none()
                {
                    return Err(Error::invalid(
                        "app_profiles.cti",
                        format!("there is no CTI gateway profile {p}: add it first (POST /api/v1/cti-gateway-profiles)"),
                    ));
                }
                Some(p)
            }
            Some(p) => Some(p),
            None if before.is_none() => self.new_user_defaults(conn).await?.1,
            None => None,
        };
        let proxy = opt(u.app_profiles.proxy.as_ref());
        if let Some(p) = &proxy {
            if !kept(&proxy, before.map(|b| &b.app_profiles.proxy))
                && sc::by_name(conn, ClientKind::ProxyProfile, p)
                    .await?
                    .is_none()
            {
                return Err(Error::invalid(
                    "app_profiles.proxy",
                    format!(
                        "there is no proxy profile {p}: add it first (POST /api/v1/proxy-profiles)"
                    ),
                ));
            }
        }
        let voicemail = opt(u.app_profiles.voicemail.as_ref());
        if let Some(v) = &voicemail {
            if !kept(&voicemail, before.map(|b| &b.app_profiles.voicemail)) {
                let is_voicemail = self
                    .systems_in(conn)
                    .await?
                    .iter()
                    .any(|s| s.kind == SystemKind::Voicemail && &s.name == v);
                if !is_voicemail {
                    return Err(Error::invalid(
                        "app_profiles.voicemail",
                        format!("there is no voicemail system {v}: a voicemail profile names a voicemail product system (POST /api/v1/systems)"),
                    ));
                }
            }
        }
        let home = opt(u.presence_home_node.as_ref()).map(|h| h.to_ascii_lowercase());
        let home = match home {
            Some(h) if !kept(&Some(h.clone()), before.map(|b| &b.presence_home_node)) => {
                let nodes = presence_nodes(conn).await?;
                if !nodes.iter().any(|n| n.node == h) {
                    return Err(Error::invalid(
                        "presence_home_node",
                        format!("{h} is not a node of any presence subcluster: add a subcluster with it first (POST /api/v1/presence-subclusters)"),
                    ));
                }
                Some(h)
            }
            Some(h) => Some(h),
            None if u.capabilities.soft_client || u.capabilities.presence => {
                let nodes = presence_nodes(conn).await?;
                let loads = sc::node_loads(conn).await?;
                let load = |n: &str| loads.iter().find(|(x, _)| x == n).map_or(0, |(_, c)| *c);
                nodes
                    .iter()
                    .min_by_key(|n| load(&n.node))
                    .map(|n| n.node.clone())
            }
            None => None,
        };
        Ok((cti, proxy, voicemail, home))
    }
}

impl Service {
    /// Every dial rule, both kinds.
    pub(crate) async fn dial_rules_in(
        &self,
        conn: &mut store::Conn,
    ) -> Result<Vec<model::dial_rules::DialRuleSpec>> {
        Ok(sc::all(conn, ClientKind::DialRule)
            .await?
            .iter()
            .map(spec_of)
            .collect())
    }

    /// What the rules of `kind` make of `number` (the keypad of `locale` for letters; US
    /// English when not given), and which rule applied.
    pub async fn test_dial_rules(
        &self,
        t: &model::dial_rules::DialTest,
    ) -> Result<model::dial_rules::DialResult> {
        let number = t.number.trim();
        if number.is_empty() {
            return Err(Error::invalid("number", "give the number to transform"));
        }
        let mut c = self.store.read().await?;
        let rules = self.dial_rules_in(&mut c).await?;
        let locale = t.locale.as_deref().unwrap_or("en_US");
        Ok(model::dial_rules::transform(&rules, t.kind, number, locale))
    }
}

pub(crate) async fn settings_in(conn: &mut store::Conn) -> Result<SoftClientSettings> {
    Ok(match store::admins::setting(conn, SETTINGS).await? {
        Some(json) => serde_json::from_str(&json).unwrap_or_default(),
        None => SoftClientSettings::default(),
    })
}

/// Everything the soft clients' files share, read once for a batch of files.
pub(crate) struct ClientShared {
    settings: SoftClientSettings,
    nodes: Vec<PresenceNode>,
    proxies: Vec<Record>,
    cti_servers: Vec<Record>,
    cti_profiles: Vec<Record>,
    /// Every LDAP profile as a client searches with it, the attribute map filled in.
    ldap: Vec<model::soft_client::ClientLdap>,
    /// In the order a client tries them: application rules, then lookup rules, by priority.
    dial_rules: Vec<model::dial_rules::DialRuleSpec>,
}

impl Service {
    pub(crate) async fn client_shared(&self, conn: &mut store::Conn) -> Result<ClientShared> {
        let attributes = client_attributes(&self.ldap_attribute_map_in(conn).await?);
        let mut ldap: Vec<_> = store::directory::client_profiles(conn)
            .await?
            .into_iter()
            .map(|(l, _)| l)
            .collect();
        for l in &mut ldap {
            l.attributes = attributes.clone();
            if l.anonymous_bind {
                l.bind_dn.clear();
            }
        }
        Ok(ClientShared {
            settings: settings_in(conn).await?,
            nodes: presence_nodes(conn).await?,
            proxies: sc::all(conn, ClientKind::ProxyProfile).await?,
            cti_servers: sc::all(conn, ClientKind::CtiGatewayServer).await?,
            cti_profiles: sc::all(conn, ClientKind::CtiGatewayProfile).await?,
            ldap,
            dial_rules: {
                let mut rules = self.dial_rules_in(conn).await?;
                rules.sort_by(|a, b| {
                    (a.kind.as_str(), a.priority, &a.name).cmp(&(
                        b.kind.as_str(),
                        b.priority,
                        &b.name,
                    ))
                });
                rules
            },
        })
    }
}

impl ClientShared {
    /// The soft-client part of the file of a phone owned by `o`.
    pub(crate) fn file(&self, o: &sc::OwnerProfiles) -> model::soft_client::ClientFile {
        use model::soft_client::{ClientFile, ClientServer};
        let home = home_of(&o.user_id, o.home_node.as_deref(), &self.nodes);
        let proxy = o
            .proxy
            .as_ref()
            .and_then(|p| self.proxies.iter().find(|r| &r.name == p))
            .map(|r| spec_of::<model::soft_client::ProxyProfileSpec>(r).primary_proxy)
            .unwrap_or_default();
        let cti = o
            .cti
            .as_ref()
            .and_then(|p| self.cti_profiles.iter().find(|r| &r.name == p))
            .map(spec_of::<CtiGatewayProfileSpec>);
        let cti_servers = cti
            .iter()
            .flat_map(|p| std::iter::once(&p.primary).chain(&p.backups))
            .filter_map(|n| self.cti_servers.iter().find(|r| &r.name == n))
            .map(|r| {
                let s: CtiGatewayServerSpec = spec_of(r);
                ClientServer {
                    host: s.host,
                    port: s.port.unwrap_or(model::soft_client::CTI_PORT),
                    protocol: "TCP".into(),
                }
            })
            .collect();
        let ldap = o
            .ldap
            .as_ref()
            .and_then(|p| self.ldap.iter().find(|l| &l.profile == p))
            .cloned();
        ClientFile {
            user_id: o.user_id.clone(),
            home_node: home.map(|h| h.node.clone()).unwrap_or_default(),
            failover_node: home.and_then(|h| h.failover.clone()).unwrap_or_default(),
            instant_messaging: self.settings.instant_messaging,
            max_contact_list: self.settings.max_contact_list,
            tftp_servers: self.settings.tftp_servers.clone(),
            proxy,
            cti_profile: cti.map(|p| p.name).unwrap_or_default(),
            cti_servers,
            cti_reconnect: model::soft_client::cti_reconnect_text(),
            ldap,
            dial_rules: self.dial_rules.clone(),
            voicemail_profile: o.voicemail.clone().unwrap_or_default(),
            conferencing_profile: o.conferencing.clone().unwrap_or_default(),
        }
    }
}

/// The attribute map as clients search with it: (Dialtone field, LDAP attribute) for every
/// field mapped.
pub(crate) fn client_attributes(
    map: &model::AttributeMap,
) -> Vec<model::soft_client::ClientAttribute> {
    map.fields
        .entries()
        .into_iter()
        .filter(|(_, a)| !a.is_empty())
        .map(|(f, a)| model::soft_client::ClientAttribute {
            field: f.into(),
            attribute: a.into(),
        })
        .collect()
}
