//! The command line: `serve`, `demo`, `migrate`, `healthcheck`, `openapi`, `resync`, `status`,
//! `import`, `export`, and the `user`, `phone` and `line` commands scripts use (they work on the database directly, through the same
//! use cases as the API, so they run with or without a server).

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "dialtone",
    version,
    about = "Dialtone: a voice provisioning server"
)]
pub struct Cli {
    /// Configuration file (TOML); `dialtone.toml` is read when it exists.
    #[arg(long, global = true, env = "DIALTONE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Database URL: sqlite:PATH (the default, sqlite:dialtone.db) or postgres://USER:PASSWORD@HOST/DB.
    #[arg(long, global = true)]
    pub db: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server.
    Serve(ServeArgs),
    /// Fill a fresh database with a realistic sample, then serve it.
    Demo(DemoArgs),
    /// Bring the database schema up to date, then exit.
    Migrate,
    /// Copy the SQLite database into FILE while servers run on it: a consistent copy of one
    /// moment, readable by you alone. Keep the secret key file with it (docs/scale-out.md);
    /// on PostgreSQL use pg_dump.
    Backup { file: PathBuf },
    /// Exit 0 when the server at ADDR answers its health check.
    Healthcheck {
        /// Address of the admin listener.
        #[arg(long, default_value = "127.0.0.1:8080")]
        admin: String,
    },
    /// Print the OpenAPI document of the REST API.
    Openapi,
    /// Find, add and remove end users.
    #[command(subcommand)]
    User(UserCmd),
    /// Find, add and remove phones.
    #[command(subcommand)]
    Phone(PhoneCmd),
    /// Find, add and remove lines (directory numbers).
    #[command(subcommand)]
    Line(LineCmd),
    /// Set an administrator's password (creating the administrator if needed); the password is
    /// read from DIALTONE_NEW_PASSWORD or from standard input.
    AdminPassword { username: String },
    /// Rotate the installation's secret key: a new key, every sealed secret (SIP credentials,
    /// phone passwords and profile keys, LDAP passwords, kept dry runs) sealed again under it,
    /// the old key kept in `<key file>.old`. Every server on the database must be stopped.
    RotateKey,
    /// Send resync NOTIFYs now (paced), wait for each outcome and print it; exits non-zero when
    /// a phone did not accept. Works on the database directly, with or without a server.
    Resync(ResyncArgs),
    /// Phones' status: last request, resync reports, NOTIFYs.
    Status(StatusArgs),
    /// The nodes sharing this database (docs/scale-out.md): whether each is up, when it was
    /// last heard from, where it listens and what it is doing.
    Cluster {
        /// One JSON object, as `GET /api/v1/cluster` answers.
        #[arg(long)]
        json: bool,
    },
    /// Import a CSV file (CUCM BAT headers): each row succeeds or fails on its own; prints
    /// every failed row (line, column, reason) and `N rows: A ok, B failed`; exits non-zero
    /// when a row failed. Works on the database directly, with or without a server.
    Import(ImportArgs),
    /// Export every record of a kind as a CSV file that `import` takes back.
    Export(ExportArgs),
    /// Templates: named partial users, phones and device profiles, applied to records or
    /// filling what an import leaves out.
    #[command(subcommand)]
    Template(TemplateCmd),
    /// Self-provisioning: where auto-registration stands, and claims (docs/self-provisioning.md).
    #[command(subcommand)]
    SelfProvisioning(SelfProvisioningCmd),
    /// The corporate directory (docs/directory.md): LDAP syncs.
    #[command(subcommand)]
    Ldap(LdapCmd),
    /// Licence units (docs/licensing.md): the report, uploading licences, and for whoever sells
    /// them, a key pair and signed licence files.
    #[command(subcommand)]
    Licence(LicenceCmd),
    /// Application dial rules and directory lookup rules (docs/dial-rules.md).
    #[command(subcommand)]
    DialRule(DialRuleCmd),
}

#[derive(Debug, Subcommand)]
pub enum DialRuleCmd {
    /// Lists the rules, application rules first, each by priority.
    List,
    /// Adds a rule.
    Add {
        name: String,
        /// application or directory_lookup.
        #[arg(long, default_value = "application")]
        kind: String,
        /// Digits the number starts with (empty: any).
        #[arg(long, default_value = "")]
        begins_with: String,
        /// How many digits the number has.
        #[arg(long)]
        digits: u32,
        /// How many characters to remove from the front.
        #[arg(long, default_value_t = 0)]
        remove: u32,
        /// Digits to put in front.
        #[arg(long, default_value = "")]
        prefix: String,
        /// 1 is tried first.
        #[arg(long, default_value_t = 1)]
        priority: u32,
        #[arg(long, default_value = "")]
        description: String,
    },
    /// Removes a rule by name.
    Remove { name: String },
    /// What the rules make of a number, and which rule applied.
    Test {
        number: String,
        /// application or directory_lookup.
        #[arg(long, default_value = "application")]
        kind: String,
        /// The keypad letters are read by (en_US when left out).
        #[arg(long)]
        locale: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum LicenceCmd {
    /// The licence unit report: authorised, used and remaining units per kind, and the
    /// licences uploaded.
    Report {
        #[arg(long)]
        json: bool,
    },
    /// Uploads a licence file (its name must end in .lic); the server's configuration must
    /// carry the seller's public key ([licensing] public_key).
    Upload { file: PathBuf },
    /// Removes an uploaded licence by its id.
    Remove { id: String },
    /// Makes a seller's key pair: writes the private key to FILE (readable by you alone) and
    /// prints the public key to give servers ([licensing] public_key).
    Keygen {
        #[arg(long, short)]
        out: PathBuf,
    },
    /// Writes a licence file signed with a private key from `keygen`.
    Make {
        /// The private key file.
        #[arg(long)]
        key: PathBuf,
        /// The licence's id (letters, digits, '-', '_', '.'); each is uploaded once.
        #[arg(long)]
        id: String,
        #[arg(long)]
        issued_to: String,
        /// YYYY-MM-DD; today when left out.
        #[arg(long)]
        issued: Option<String>,
        /// YYYY-MM-DD, the last day it counts; it never expires when left out.
        #[arg(long)]
        expires: Option<String>,
        #[arg(long, default_value_t = 0)]
        device_units: i64,
        #[arg(long, default_value_t = 0)]
        presence_user_units: i64,
        #[arg(long, default_value_t = 0)]
        soft_client_units: i64,
        /// Where to write it (a name ending in .lic); standard output when left out.
        #[arg(long, short)]
        out: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum LdapCmd {
    /// Syncs users from an LDAP profile's directory: creates the users it adds, gives stored
    /// users its values, makes synced users who left it inactive. With --dry-run, prints what
    /// it would do and changes nothing. Exits non-zero when the directory cannot be read or a
    /// user could not be written.
    Sync {
        /// The LDAP profile (name or id).
        profile: String,
        #[arg(long)]
        dry_run: bool,
        /// The call-control system the users are on (when there are several).
        #[arg(long)]
        system: Option<String>,
        /// Print the whole report as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum SelfProvisioningCmd {
    /// The auto-registration range of a call-control system: numbers taken and free, phones
    /// not yet claimed.
    Status {
        #[arg(long)]
        system: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Claims an auto-registered phone for a user, as the IVR would: the phone by name, MAC or
    /// the number it shows; the user by user ID or self-provisioning ID; the PIN or password
    /// (when the system's mode asks for one) from DIALTONE_CLAIM_SECRET or standard input.
    /// A running server notifies the phone.
    Claim {
        phone: String,
        user: String,
        #[arg(long)]
        system: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum TemplateCmd {
    /// List templates (of one kind with --kind).
    List {
        #[arg(long)]
        kind: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Print a template as JSON.
    Show {
        /// user, phone or device-profile.
        #[arg(long)]
        kind: String,
        name: String,
    },
    /// Add a template holding FIELD=VALUE pairs: the fields of a new record, as the API names
    /// them (`device_pool=Sales`); a value that parses as JSON is taken as JSON
    /// (`capabilities={"cup":true}`), any other as text.
    Add {
        /// user, phone or device-profile.
        #[arg(long)]
        kind: String,
        name: String,
        #[arg(long, default_value = "")]
        description: String,
        fields: Vec<String>,
    },
    /// Apply a template to the records named, or found with --q (a prefix of their names):
    /// each changes or fails on its own. Asks before more than 1,000 records unless --yes.
    Apply {
        /// user, phone or device-profile.
        #[arg(long)]
        kind: String,
        name: String,
        /// User IDs or device names.
        targets: Vec<String>,
        /// Apply to every record whose name starts with this.
        #[arg(long)]
        q: Option<String>,
        /// The product system, when a user ID exists on several.
        #[arg(long)]
        system: Option<String>,
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Remove a template.
    Remove {
        #[arg(long)]
        kind: String,
        name: String,
    },
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// users, phones, device-profiles, lines, voicemail-subscribers or app-profiles.
    #[arg(long)]
    pub kind: String,
    /// add, modify or delete.
    #[arg(long, default_value = "add")]
    pub mode: String,
    /// Check every row against what is stored, write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Stop at the first failed row.
    #[arg(long)]
    pub stop_on_error: bool,
    /// A user, phone or device-profile template (of the file's kind) filling the cells the
    /// file leaves empty.
    #[arg(long)]
    pub template: Option<String>,
    /// Go on without asking when the file has many rows.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// The CSV file (UTF-8, with or without BOM).
    pub file: PathBuf,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Any kind a file can be imported as: users, phones (with their owners' user columns),
    /// lines, device-profiles, voicemail-subscribers, app-profiles, user-profiles,
    /// universal-line-templates, universal-device-templates or dial-rules.
    #[arg(long)]
    pub kind: String,
    /// Where to write (standard output when left out).
    pub file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ResyncArgs {
    /// A phone by name (repeatable).
    #[arg(long = "device")]
    pub devices: Vec<String>,
    /// Every phone of this device pool.
    #[arg(long)]
    pub pool: Option<String>,
    /// Every phone of this model.
    #[arg(long)]
    pub model: Option<String>,
    /// Every phone.
    #[arg(long)]
    pub all: bool,
    /// NOTIFYs started per second at most (default: sip.rate, 50).
    #[arg(long)]
    pub rate: Option<u32>,
    /// Address to send from (default: sip.listen, or 0.0.0.0:0).
    #[arg(long)]
    pub from: Option<String>,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Prefix of the device name.
    pub q: Option<String>,
    /// Only phones never seen.
    #[arg(long, conflicts_with_all = ["failing", "not_resynced"])]
    pub never_seen: bool,
    /// Only phones whose last resync failed or whose last NOTIFY was not accepted.
    #[arg(long, conflicts_with = "not_resynced")]
    pub failing: bool,
    /// Only phones whose file changed after their last resync.
    #[arg(long)]
    pub not_resynced: bool,
    #[arg(long, default_value_t = 50)]
    pub limit: i64,
    #[arg(long, default_value_t = 0)]
    pub offset: i64,
    /// Print JSON (one object per line) instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address of the REST API (default 127.0.0.1:8080); "" turns plain HTTP off.
    #[arg(long)]
    pub admin: Option<String>,
    /// Address of the REST API over HTTPS (default 127.0.0.1:8443); "" turns it off.
    #[arg(long)]
    pub https: Option<String>,
    /// Address of the phone HTTPS listener (e.g. 0.0.0.0:6971); off unless given.
    #[arg(long)]
    pub phone_https: Option<String>,
    /// Address of the phone HTTP listener (default 127.0.0.1:6970; 0.0.0.0:6970 for phones on the network).
    #[arg(long)]
    pub http: Option<String>,
    /// A directory of operator templates (*.j2) over the built-in ones.
    #[arg(long)]
    pub templates: Option<String>,
    /// Address of the TFTP listener (phones use 0.0.0.0:69); off unless given.
    #[arg(long)]
    pub tftp: Option<String>,
    /// Address resync NOTIFYs are sent from (e.g. 0.0.0.0:5070); off unless given.
    #[arg(long)]
    pub sip: Option<String>,
    /// Address of the syslog receiver (phones send to port 514); off unless given.
    #[arg(long)]
    pub syslog: Option<String>,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Address of the REST API (default 127.0.0.1:8080).
    #[arg(long)]
    pub admin: Option<String>,
    /// Address of the REST API over HTTPS (default 127.0.0.1:8443); "" turns it off.
    #[arg(long)]
    pub https: Option<String>,
    /// Address of the phone HTTP listener (default 127.0.0.1:6970).
    #[arg(long)]
    pub http: Option<String>,
    /// How many users the sample has.
    #[arg(long, default_value_t = 300)]
    pub users: usize,
    /// Fill the database and exit instead of serving.
    #[arg(long)]
    pub no_serve: bool,
}

#[derive(Debug, Args)]
pub struct FindArgs {
    /// Prefix to find.
    pub q: Option<String>,
    /// Only this product system.
    #[arg(long)]
    pub system: Option<String>,
    #[arg(long, default_value_t = 50)]
    pub limit: i64,
    #[arg(long, default_value_t = 0)]
    pub offset: i64,
    /// Print JSON (one object per line) instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum UserCmd {
    /// Find users by prefix of user ID, first or last name.
    Find(FindArgs),
    /// Add a user.
    Add {
        #[arg(long)]
        user_id: String,
        #[arg(long, default_value = "")]
        first_name: String,
        #[arg(long)]
        last_name: String,
        #[arg(long)]
        system: Option<String>,
        #[arg(long)]
        primary_extension: Option<String>,
        #[arg(long, default_value = "")]
        mail: String,
        /// Read the password from DIALTONE_USER_PASSWORD.
        #[arg(long)]
        password_from_env: bool,
    },
    /// Remove a user.
    Remove {
        user_id: String,
        #[arg(long)]
        system: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum PhoneCmd {
    /// Find phones by prefix of device name.
    Find(FindArgs),
    /// Add a phone.
    Add {
        #[arg(long)]
        mac: Option<String>,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        model: String,
        #[arg(long)]
        system: Option<String>,
        #[arg(long, default_value = "")]
        description: String,
        #[arg(long)]
        owner: Option<String>,
        /// A line, as PATTERN or PATTERN@PARTITION; repeat for more buttons.
        #[arg(long = "line")]
        lines: Vec<String>,
    },
    /// Remove a phone.
    Remove { name: String },
}

#[derive(Debug, Subcommand)]
pub enum LineCmd {
    /// Find lines by prefix of the pattern.
    Find(FindArgs),
    /// Add a line.
    Add {
        pattern: String,
        #[arg(long, default_value = "")]
        partition: String,
        #[arg(long)]
        system: Option<String>,
        #[arg(long, default_value = "")]
        description: String,
        #[arg(long)]
        max_calls: Option<i64>,
        #[arg(long)]
        busy_trigger: Option<i64>,
    },
    /// Remove a line.
    Remove {
        pattern: String,
        #[arg(long)]
        partition: Option<String>,
        #[arg(long)]
        system: Option<String>,
    },
}

impl FindArgs {
    pub fn find(&self) -> model::Find {
        model::Find {
            q: self.q.clone(),
            system: self.system.clone(),
            limit: self.limit,
            offset: self.offset,
            ..Default::default()
        }
    }
}
