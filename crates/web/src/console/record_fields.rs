//! The fields of each record the console edits through [`super::records`]: what its form asks
//! and its page shows, in order, and how each is typed.

use super::records::{field, key, Field, Input};
use model::SystemKind;

pub(super) const SUBSCRIBER_FIELDS: &[Field] = &[
    key("alias", "Alias", Input::Text),
    key(
        "system",
        "Product system",
        Input::System(SystemKind::Voicemail),
    ),
    field("first_name", "First name", Input::Text),
    field("last_name", "Last name", Input::Text),
    field("display_name", "Display name", Input::Text),
    field("extension", "Extension", Input::Text),
    field("mail", "Mail", Input::Text),
    field("pin", "PIN", Input::Secret),
    field("class_of_service", "Class of service", Input::Text),
    field("subscriber_template", "Subscriber template", Input::Text),
    field(
        "distribution_lists",
        "Public distribution lists (commas between)",
        Input::List,
    ),
];

pub(super) const RESTRICTION_TABLE_FIELDS: &[Field] = &[
    key("name", "Name", Input::Text),
    key("system", "Voicemail system", Input::System(SystemKind::Voicemail)),
    field(
        "entries",
        "Rows, first match wins (one per line: pattern allow|block; digits, ? one digit, * any digits)",
        Input::Restrictions,
    ),
];

pub(super) const SUBSCRIBER_TEMPLATE_FIELDS: &[Field] = &[
    key("name", "Name", Input::Text),
    key(
        "system",
        "Voicemail system",
        Input::System(SystemKind::Voicemail),
    ),
    field("class_of_service", "Class of service", Input::Text),
    field(
        "distribution_lists",
        "Public distribution lists (commas between)",
        Input::List,
    ),
    field(
        "default_pin",
        "Default PIN of new subscribers",
        Input::Secret,
    ),
];

pub(super) const SYSTEM_FIELDS: &[Field] = &[
    key("name", "Name", Input::Text),
    key(
        "kind",
        "Kind",
        Input::Choice(&["call_control", "voicemail"]),
    ),
    field("description", "Description", Input::Text),
    field(
        "settings.servers",
        "Call-control servers (one per line: host [SIP port [SIP TLS port [SCCP port]]])",
        Input::Servers,
    ),
    field(
        "settings.tftp_servers",
        "TFTP servers (primary first, commas between)",
        Input::List,
    ),
    field(
        "settings.transport",
        "SIP transport",
        Input::Choice(&["udp", "tcp", "tls"]),
    ),
    field(
        "settings.auto_registration",
        "Auto-registration (unknown phones get the default file)",
        Input::Check,
    ),
    field(
        "settings.auto_registration_start_dn",
        "Auto-registration: starting directory number",
        Input::Text,
    ),
    field(
        "settings.auto_registration_end_dn",
        "Auto-registration: ending directory number (the same as the start turns it off)",
        Input::Text,
    ),
    field(
        "settings.auto_registration_device_template",
        "Auto-registration: universal device template",
        Input::Text,
    ),
    field(
        "settings.auto_registration_line_template",
        "Auto-registration: universal line template",
        Input::Text,
    ),
    field(
        "settings.auto_registration_model",
        "Auto-registration: model of phones that do not say theirs (TFTP)",
        Input::Text,
    ),
    field(
        "settings.self_provisioning.authentication",
        "Self-provisioning: authentication",
        Input::Choice(&["none", "end_user", "end_user_or_admin_code"]),
    ),
    field(
        "settings.self_provisioning.authentication_code",
        "Self-provisioning: administrators' authentication code (0 to 20 digits)",
        Input::Secret,
    ),
    field(
        "settings.self_provisioning.ivr_extension",
        "Self-provisioning: IVR extension",
        Input::Text,
    ),
    field(
        "settings.self_provisioning.languages",
        "Self-provisioning: prompt languages (commas between; en_US, fr_FR, de_DE, es_ES)",
        Input::List,
    ),
    field(
        "settings.phone_auth",
        "Files that need the phone's credentials",
        Input::Choice(&["off", "secrets", "all"]),
    ),
    field(
        "settings.profile_encryption",
        "MPP profiles served encrypted (needs a profile key; required: clear files over HTTPS only)",
        Input::Choice(&["off", "on", "required"]),
    ),
    field("settings.voicemail_pilot", "Voicemail pilot", Input::Text),
    field(
        "settings.services_url",
        "IP phone services URL",
        Input::Text,
    ),
    field("settings.user_locale", "User locale", Input::Text),
    field(
        "settings.user_locale_lang",
        "User locale language",
        Input::Text,
    ),
    field("settings.network_locale", "Network locale", Input::Text),
    field(
        "settings.extension_mobility.multiple_login",
        "Extension mobility: a login on a second phone",
        Input::Choice(&["refuse", "auto_logout"]),
    ),
    field(
        "settings.extension_mobility.max_login_minutes",
        "Extension mobility: maximum login time in minutes (0: no limit)",
        Input::Number,
    ),
];

pub(super) const LINE_FIELDS: &[Field] = &[
    key("pattern", "Directory number", Input::Text),
    key("partition", "Route partition", Input::Text),
    key(
        "system",
        "Product system",
        Input::System(SystemKind::CallControl),
    ),
    field("description", "Description", Input::Text),
    field("alerting_name", "Alerting name", Input::Text),
    field("forward_all", "Forward all", Input::Text),
    field(
        "forward_busy_internal",
        "Forward busy (internal)",
        Input::Text,
    ),
    field(
        "forward_busy_external",
        "Forward busy (external)",
        Input::Text,
    ),
    field(
        "forward_no_answer_internal",
        "Forward no answer (internal)",
        Input::Text,
    ),
    field(
        "forward_no_answer_external",
        "Forward no answer (external)",
        Input::Text,
    ),
    field("pickup_group", "Call pickup group", Input::Text),
    field("voicemail_profile", "Voice mail profile", Input::Text),
    field("max_calls", "Maximum number of calls", Input::Number),
    field("busy_trigger", "Busy trigger", Input::Number),
];

pub(super) const DEVICE_TEMPLATE_FIELDS: &[Field] = &[
    key("name", "Name", Input::Text),
    key(
        "system",
        "Product system",
        Input::System(SystemKind::CallControl),
    ),
    field("description", "Description", Input::Text),
    field(
        "device.device_description",
        "Device description (a pattern: #FirstName# #LastName# (#Product#))",
        Input::Text,
    ),
    field("device.device_pool", "Device pool", Input::Text),
    field(
        "device.button_template",
        "Phone button template",
        Input::Text,
    ),
    field("device.softkey_template", "Softkey template", Input::Text),
    field(
        "device.calling_search_space",
        "Calling search space",
        Input::Text,
    ),
    field("device.location", "Location", Input::Text),
    field(
        "device.dnd",
        "Do not disturb",
        Input::Choice(&["off", "ringer_off", "call_reject"]),
    ),
    field(
        "device.expansion_modules",
        "Expansion modules (commas between)",
        Input::List,
    ),
    field(
        "device.speed_dials",
        "Speed dials (one per line: position number [label])",
        Input::SpeedDials,
    ),
];

pub(super) const LINE_TEMPLATE_FIELDS: &[Field] = &[
    key("name", "Name", Input::Text),
    key(
        "system",
        "Product system",
        Input::System(SystemKind::CallControl),
    ),
    field("description", "Description", Input::Text),
    field("line.partition", "Route partition", Input::Text),
    field(
        "line.line_description",
        "Line description (a pattern: #FirstName# #LastName#)",
        Input::Text,
    ),
    field(
        "line.alerting_name",
        "Alerting name (a pattern)",
        Input::Text,
    ),
    field("line.label", "Line text label (a pattern)", Input::Text),
    field(
        "line.display",
        "Display (caller ID, a pattern)",
        Input::Text,
    ),
    field(
        "line.external_mask",
        "External phone number mask (972813XXXX)",
        Input::Text,
    ),
    field("line.voicemail_profile", "Voice mail profile", Input::Text),
    field("line.forward_all", "Forward all", Input::Text),
    field(
        "line.forward_busy_internal",
        "Forward busy (internal)",
        Input::Text,
    ),
    field(
        "line.forward_busy_external",
        "Forward busy (external)",
        Input::Text,
    ),
    field(
        "line.forward_no_answer_internal",
        "Forward no answer (internal)",
        Input::Text,
    ),
    field(
        "line.forward_no_answer_external",
        "Forward no answer (external)",
        Input::Text,
    ),
    field("line.pickup_group", "Call pickup group", Input::Text),
    field("line.max_calls", "Maximum number of calls", Input::Number),
    field("line.busy_trigger", "Busy trigger", Input::Number),
];

pub(super) const USER_PROFILE_FIELDS: &[Field] = &[
    key("name", "Name", Input::Text),
    key(
        "system",
        "Product system",
        Input::System(SystemKind::CallControl),
    ),
    field("description", "Description", Input::Text),
    field(
        "device_template",
        "Universal device template (desk phones)",
        Input::Text,
    ),
    field("line_template", "Universal line template", Input::Text),
    field(
        "allow_self_provisioning",
        "Allow end users to provision their own phones",
        Input::Check,
    ),
    field(
        "phone_limit",
        "Limit of provisioned phones (1 to 100)",
        Input::Number,
    ),
];

pub(super) const LDAP_SERVER_FIELDS: &[Field] = &[
    key("name", "Name", Input::Text),
    field("description", "Description", Input::Text),
    field("host", "Host name or IP address", Input::Text),
    field(
        "port",
        "Port (389; 636 with LDAPS; 3268 for a Global Catalog)",
        Input::Number,
    ),
    field(
        "directory_type",
        "Directory type",
        Input::Choice(&["active_directory", "openldap", "netscape", "sun_one"]),
    ),
    field(
        "security",
        "Protocol",
        Input::Choice(&["tcp", "ldaps", "start_tls"]),
    ),
    field("ca_file", "CA certificate file (for TLS)", Input::Text),
];

pub(super) const LDAP_PROFILE_FIELDS: &[Field] = &[
    key("name", "Name", Input::Text),
    field("description", "Description", Input::Text),
    field("bind_dn", "Bind distinguished name", Input::Text),
    field("anonymous_bind", "Anonymous bind", Input::Check),
    field("password", "Bind password", Input::Secret),
    field("search_context", "Search context", Input::Text),
    field("recursive", "Recursive search", Input::Check),
    field("primary_server", "Primary LDAP server", Input::Text),
    field(
        "backup_servers",
        "Backup LDAP servers (at most two, in order, commas between)",
        Input::List,
    ),
    field(
        "default_profile",
        "Default LDAP profile for new users",
        Input::Check,
    ),
    field(
        "sync_filter",
        "Sync filter (empty: the directory type's people)",
        Input::Text,
    ),
    field(
        "sync_interval_hours",
        "Sync every … hours (0: on demand only)",
        Input::Number,
    ),
];

pub(super) const SUBCLUSTER_FIELDS: &[Field] = &[
    key("name", "Name", Input::Text),
    field("description", "Description", Input::Text),
    field(
        "primary_node",
        "Primary node (host name or IP address)",
        Input::Text,
    ),
    field(
        "secondary_node",
        "Secondary node, the primary's failover (empty: none)",
        Input::Text,
    ),
];

pub(super) const PROXY_PROFILE_FIELDS: &[Field] = &[
    key("name", "Name", Input::Text),
    field("description", "Description", Input::Text),
    field(
        "listener",
        "Proxy listener (TCP: UDP loses availability on large contact lists)",
        Input::Choice(&["tcp", "udp"]),
    ),
    field(
        "primary_proxy",
        "Primary proxy server (host[:port])",
        Input::Text,
    ),
    field(
        "backup_proxy",
        "Backup proxy server (leave empty: soft clients take no redundant proxy)",
        Input::Text,
    ),
];

pub(super) const CTI_SERVER_FIELDS: &[Field] = &[
    key("name", "Name", Input::Text),
    field("description", "Description", Input::Text),
    field(
        "host",
        "Host name or IP address of the CTIManager",
        Input::Text,
    ),
    field("port", "Port (2748)", Input::Number),
    field("protocol", "Protocol", Input::Choice(&["tcp", "udp"])),
];

pub(super) const CTI_PROFILE_FIELDS: &[Field] = &[
    key("name", "Name", Input::Text),
    field("description", "Description", Input::Text),
    field("primary", "Primary CTI gateway server", Input::Text),
    field(
        "backups",
        "Backup CTI gateway servers, in order (commas between, at most 2)",
        Input::List,
    ),
    field(
        "default_profile",
        "The default CTI gateway profile for new users",
        Input::Check,
    ),
];

pub(super) const DIAL_RULE_FIELDS: &[Field] = &[
    key("name", "Name", Input::Text),
    field("description", "Description", Input::Text),
    field(
        "kind",
        "Kind (application: numbers dialled; directory lookup: callers' numbers)",
        Input::Choice(&["application", "directory_lookup"]),
    ),
    field(
        "begins_with",
        "Number begins with (digits, a leading + allowed; empty: any)",
        Input::Text,
    ),
    field("number_of_digits", "Number of digits", Input::Number),
    field(
        "digits_removed",
        "Total digits to be removed from the front",
        Input::Number,
    ),
    field("prefix", "Prefix with", Input::Text),
    field("priority", "Priority (1 is tried first)", Input::Number),
];
