//! Dialtone's domain model: values parsed at the boundary (`Mac`, `DeviceName`, `DirectoryNumber`,
//! `UserId`, `Pin`, …), the records and the requests that change them, the device type catalogue,
//! and the pure rules (soft-phone names, what a model supports, conflicts between product systems).
//!
//! Nothing in here touches SQL, sockets, files or the clock.
#![forbid(unsafe_code)]

pub mod access;

/// A count with its noun, singular or plural: `counted(1, "line", "lines")` is `1 line`.
pub fn counted(n: impl std::fmt::Display, one: &str, many: &str) -> String {
    let n = n.to_string();
    let noun = if n == "1" { one } else { many };
    format!("{n} {noun}")
}
pub mod catalog;
pub mod cluster;
pub mod entities;
pub mod error;
pub mod files;
mod find;
pub use find::Find;
pub mod contacts;
pub mod dial_rules;
pub mod directory;
pub mod dnd;
pub mod extension_mobility;
pub mod firmware;
pub mod licensing;
pub mod macros;
pub mod profile_rule;
pub mod provisioning;
pub mod rules;
pub mod self_provisioning;
pub mod soft_client;
pub use directory::{
    AttributeFields, AttributeMap, DirectoryType, LdapProfile, LdapProfilePatch, LdapSecurity,
    LdapServer, LdapServerPatch, LdapSyncReport, LdapSyncRequest, NewLdapProfile, NewLdapServer,
};
pub mod status;
pub mod templates;
pub mod trigger;
pub mod values;

pub use access::{
    Administrator, AdministratorPatch, NewAdministrator, NewRole, Privilege, Role, RolePatch,
};
pub use catalog::{Catalog, DeviceFamily, DeviceType, Naming};
pub use entities::*;
pub use error::Invalid;
pub use self_provisioning::{
    AutoRegistrationStatus, ClaimRefusal, ClaimRequest, Claimed, DeviceTemplateSettings,
    LineTemplateSettings, NewUniversalDeviceTemplate, NewUniversalLineTemplate, NewUserProfile,
    SelfProvisioningAuth, SelfProvisioningSettings, UniversalDeviceTemplate,
    UniversalDeviceTemplatePatch, UniversalLineTemplate, UniversalLineTemplatePatch, UserProfile,
    UserProfilePatch,
};
pub use templates::{
    ApplyTemplate, ImportJob, JobState, NewTemplate, Template, TemplateKind, TemplatePatch,
};
pub use values::*;
