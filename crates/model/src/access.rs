//! Administrators, roles and privileges. A privilege is (product system, resource, action);
//! `*` in any part stands for every value. An administrator may do what one of their roles'
//! privileges allows; `superadmin` and `Full Provisioning` are built in.

use crate::error::Invalid;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What kind of record an audited change touched; privileges name the same resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    System,
    User,
    VoicemailSubscriber,
    Phone,
    Line,
    DeviceProfile,
    Service,
    Parameters,
    Template,
    ClassOfService,
    DistributionList,
    RestrictionTable,
    SubscriberTemplate,
    Admin,
    Role,
    UniversalDeviceTemplate,
    UniversalLineTemplate,
    UserProfile,
    LdapServer,
    LdapProfile,
    LdapAttributeMap,
    PresenceSubcluster,
    ProxyProfile,
    CtiGatewayServer,
    CtiGatewayProfile,
    SoftClientSettings,
    DialRule,
    /// An uploaded licence file.
    Licence,
    /// Firmware files and the load chosen per model.
    Firmware,
    /// A node of the cluster (forgetting one that is gone).
    Node,
    /// An administrator's own API token: every administrator may make and drop their own.
    Token,
}

impl Resource {
    /// Every resource a privilege may name, in the order the API lists them.
    pub const PRIVILEGED: [Resource; 30] = [
        Resource::System,
        Resource::User,
        Resource::VoicemailSubscriber,
        Resource::Phone,
        Resource::Line,
        Resource::DeviceProfile,
        Resource::Service,
        Resource::Parameters,
        Resource::Template,
        Resource::ClassOfService,
        Resource::DistributionList,
        Resource::RestrictionTable,
        Resource::SubscriberTemplate,
        Resource::Admin,
        Resource::Role,
        Resource::UniversalDeviceTemplate,
        Resource::UniversalLineTemplate,
        Resource::UserProfile,
        Resource::LdapServer,
        Resource::LdapProfile,
        Resource::LdapAttributeMap,
        Resource::PresenceSubcluster,
        Resource::ProxyProfile,
        Resource::CtiGatewayServer,
        Resource::CtiGatewayProfile,
        Resource::SoftClientSettings,
        Resource::DialRule,
        Resource::Licence,
        Resource::Firmware,
        Resource::Node,
    ];

    /// As the audit log and privileges write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Resource::System => "system",
            Resource::User => "user",
            Resource::VoicemailSubscriber => "voicemail_subscriber",
            Resource::Phone => "phone",
            Resource::Line => "line",
            Resource::DeviceProfile => "device_profile",
            Resource::Service => "service",
            Resource::Parameters => "parameters",
            Resource::Template => "template",
            Resource::ClassOfService => "class_of_service",
            Resource::DistributionList => "distribution_list",
            Resource::RestrictionTable => "restriction_table",
            Resource::SubscriberTemplate => "subscriber_template",
            Resource::Admin => "admin",
            Resource::Role => "role",
            Resource::UniversalDeviceTemplate => "universal_device_template",
            Resource::UniversalLineTemplate => "universal_line_template",
            Resource::UserProfile => "user_profile",
            Resource::LdapServer => "ldap_server",
            Resource::LdapProfile => "ldap_profile",
            Resource::LdapAttributeMap => "ldap_attribute_map",
            Resource::PresenceSubcluster => "presence_subcluster",
            Resource::ProxyProfile => "proxy_profile",
            Resource::CtiGatewayServer => "cti_gateway_server",
            Resource::CtiGatewayProfile => "cti_gateway_profile",
            Resource::SoftClientSettings => "soft_client_settings",
            Resource::DialRule => "dial_rule",
            Resource::Licence => "licence",
            Resource::Firmware => "firmware",
            Resource::Node => "node",
            Resource::Token => "token",
        }
    }

    /// The resource of a soft client's record.
    pub fn of_client(k: crate::soft_client::ClientKind) -> Resource {
        use crate::soft_client::ClientKind as K;
        match k {
            K::PresenceSubcluster => Resource::PresenceSubcluster,
            K::ProxyProfile => Resource::ProxyProfile,
            K::CtiGatewayServer => Resource::CtiGatewayServer,
            K::CtiGatewayProfile => Resource::CtiGatewayProfile,
            K::DialRule => Resource::DialRule,
        }
    }

    /// A phone or a device profile.
    pub fn of_class(c: crate::rules::DeviceClass) -> Resource {
        match c {
            crate::rules::DeviceClass::Phone => Resource::Phone,
            crate::rules::DeviceClass::DeviceProfile => Resource::DeviceProfile,
        }
    }

    /// The records a template fills.
    pub fn of_template(k: crate::TemplateKind) -> Resource {
        match k {
            crate::TemplateKind::User => Resource::User,
            crate::TemplateKind::Phone => Resource::Phone,
            crate::TemplateKind::DeviceProfile => Resource::DeviceProfile,
        }
    }
}

/// What an audited change did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Create,
    Update,
    Delete,
    /// Parameters set on a scope (created or replaced).
    Set,
    SetPassword,
    /// A CSV job's summary.
    Import,
    BatchDelete,
    ApplyTemplate,
    SetHttpCredential,
    RemoveHttpCredential,
    SetProfileKey,
    RemoveProfileKey,
    /// A user made an auto-registered phone theirs (self-provisioning).
    Claim,
    /// An LDAP profile's directory sync (its summary).
    Sync,
    /// Capabilities given to many users at once (its summary).
    AssignCapabilities,
    /// A user logged in on a phone (extension mobility).
    Login,
    /// A user logged out of a phone (by themselves, an administrator, or the login's time).
    Logout,
    /// An administrator read a phone's file with its secrets in clear (the preview).
    ReadSecrets,
    /// Phones told to resync (a SIP NOTIFY each).
    Resync,
    /// Every sealed secret sealed again under a new installation key (`dialtone rotate-key`).
    RotateKey,
}

impl Action {
    /// As the audit log writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Delete => "delete",
            Action::Set => "set",
            Action::SetPassword => "set_password",
            Action::Import => "import",
            Action::BatchDelete => "batch_delete",
            Action::ApplyTemplate => "apply_template",
            Action::SetHttpCredential => "set http credential",
            Action::RemoveHttpCredential => "remove http credential",
            Action::SetProfileKey => "set profile key",
            Action::RemoveProfileKey => "remove profile key",
            Action::Claim => "claim",
            Action::Sync => "sync",
            Action::AssignCapabilities => "assign_capabilities",
            Action::Login => "login",
            Action::Logout => "logout",
            Action::ReadSecrets => "read_secrets",
            Action::Resync => "resync",
            Action::RotateKey => "rotate secret key",
        }
    }

    /// The privilege action it needs of `resource`'s: `create`, `update` (setting and
    /// changing a password are updates) or `delete`; `None` for changes every administrator
    /// may make (their own API tokens).
    pub fn privilege(self, resource: Resource) -> Option<&'static str> {
        if resource == Resource::Token {
            return None;
        }
        Some(match self {
            Action::Create => "create",
            Action::Delete | Action::BatchDelete => "delete",
            _ => "update",
        })
    }
}

/// The resources privileges name (those the audit log names).
pub const RESOURCES: &[&str] = &[
    "system",
    "user",
    "voicemail_subscriber",
    "phone",
    "line",
    "device_profile",
    "service",
    "parameters",
    "template",
    "class_of_service",
    "distribution_list",
    "restriction_table",
    "subscriber_template",
    "admin",
    "role",
    "universal_device_template",
    "universal_line_template",
    "user_profile",
    "ldap_server",
    "ldap_profile",
    "ldap_attribute_map",
    "presence_subcluster",
    "proxy_profile",
    "cti_gateway_server",
    "cti_gateway_profile",
    "soft_client_settings",
    "dial_rule",
    "licence",
    "firmware",
    "node",
];

/// The actions privileges name.
/// `read_secrets` (on `phone`) lets a preview of a phone's file show the SIP and HTTP
/// passwords it carries; without it they are masked.
pub const ACTIONS: &[&str] = &["read", "create", "update", "delete", "read_secrets"];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Privilege {
    /// A product system's name, or `*`.
    pub system: String,
    /// One of [`RESOURCES`], or `*`.
    pub resource: String,
    /// `read`, `create`, `update`, `delete`, `read_secrets`, or `*`. Any of them lets the
    /// administrator see the records it names (one cannot change what one cannot see); `read`
    /// lets them do no more; `read_secrets` on `phone` shows the passwords in a phone file's
    /// preview.
    pub action: String,
}

impl Privilege {
    /// Whether this privilege allows `action` on `resource` of `system` (`""`: a record of no
    /// system, such as a template: only `*` covers it).
    pub fn allows(&self, system: &str, resource: &str, action: &str) -> bool {
        let m = |p: &str, v: &str| p == "*" || p == v;
        (self.system == "*" || (!system.is_empty() && self.system == system))
            && m(&self.resource, resource)
            && m(&self.action, action)
    }

    /// Whether this privilege lets its holder see `resource` records of `system` (`""`: of no
    /// system, which only `*` covers): any action does.
    pub fn reads(&self, system: &str, resource: &str) -> bool {
        (self.system == "*" || (!system.is_empty() && self.system == system))
            && (self.resource == "*" || self.resource == resource)
    }

    pub fn check(&self, field: &str) -> Result<(), Invalid> {
        if self.system.trim().is_empty() {
            return Err(Invalid::new(
                field,
                "a privilege names a product system, or `*`",
            ));
        }
        if self.resource != "*" && !RESOURCES.contains(&self.resource.as_str()) {
            return Err(Invalid::new(
                field,
                format!(
                    "`{}` is not a resource: {} or `*`",
                    self.resource,
                    RESOURCES.join(", ")
                ),
            ));
        }
        if self.action != "*" && !ACTIONS.contains(&self.action.as_str()) {
            return Err(Invalid::new(
                field,
                format!(
                    "`{}` is not an action: {} or `*`",
                    self.action,
                    ACTIONS.join(", ")
                ),
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Role {
    pub name: String,
    pub description: String,
    /// `superadmin` and `Full Provisioning`: they cannot be changed or removed.
    pub builtin: bool,
    pub privileges: Vec<Privilege>,
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRole {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub privileges: Vec<Privilege>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct RolePatch {
    pub version: i64,
    pub description: Option<String>,
    pub privileges: Option<Vec<Privilege>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Administrator {
    pub username: String,
    pub roles: Vec<String>,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAdministrator {
    pub username: String,
    /// Write-only: stored as an argon2 hash.
    #[schema(value_type = String, format = Password)]
    pub password: crate::Secret,
    #[serde(default)]
    pub roles: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct AdministratorPatch {
    #[schema(value_type = Option<String>, format = Password)]
    pub password: Option<crate::Secret>,
    pub roles: Option<Vec<String>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str, r: &str, a: &str) -> Privilege {
        Privilege {
            system: s.into(),
            resource: r.into(),
            action: a.into(),
        }
    }

    #[test]
    fn privileges_match_by_part_with_stars() {
        assert!(p("*", "*", "*").allows("cucm1", "phone", "delete"));
        assert!(p("*", "*", "*").allows("", "template", "create"));
        assert!(p("cucm1", "phone", "*").allows("cucm1", "phone", "delete"));
        assert!(!p("cucm1", "phone", "*").allows("cucm2", "phone", "delete"));
        assert!(!p("cucm1", "phone", "update").allows("cucm1", "phone", "delete"));
        assert!(
            !p("cucm1", "*", "*").allows("", "template", "create"),
            "a record of no system needs `*`"
        );
        assert!(p("*", "phone", "create").check("p").is_ok());
        assert!(p("*", "chair", "create").check("p").is_err());
        assert!(p("*", "phone", "sit").check("p").is_err());
        assert_eq!(
            Action::SetPassword.privilege(Resource::Admin),
            Some("update")
        );
        assert_eq!(Action::Create.privilege(Resource::Token), None);
    }
}

#[cfg(test)]
mod resource_tests {
    use super::*;

    #[test]
    fn privileges_name_the_audited_resources() {
        let names: Vec<&str> = Resource::PRIVILEGED.iter().map(|r| r.as_str()).collect();
        assert_eq!(names, RESOURCES);
        assert_eq!(Action::Update.privilege(Resource::Token), None);
        assert_eq!(
            Action::BatchDelete.privilege(Resource::Line),
            Some("delete")
        );
        assert_eq!(
            Action::SetPassword.privilege(Resource::Admin),
            Some("update")
        );
    }
}
