//! A real OpenLDAP `slapd` (Debian `slapd`) for tests: started on a free port of 127.0.0.1 with
//! its own configuration and data (in a temporary folder), stopped when dropped. Shared by the
//! LDAP crate's tests and Dialtone's (`#[path]`), so both run the same directory.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const SUFFIX: &str = "dc=example,dc=com";

/// A slapd of the test's own, stopped when dropped.
pub struct Slapd {
    child: Child,
    pub port: u16,
    pub dir: PathBuf,
}

impl Drop for Slapd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub fn program(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .chain([PathBuf::from("/usr/sbin")])
        .map(|d| d.join(name))
        .find(|p| p.is_file());
    if found.is_none() {
        if std::env::var("DIALTONE_REQUIRE_PEERS").as_deref() == Ok("1") {
            panic!(
                "DIALTONE_REQUIRE_PEERS=1 but `{name}` is not installed (apt-get install slapd ldap-utils)"
            );
        }
        eprintln!("SKIPPED: `{name}` is not installed (apt-get install slapd ldap-utils)");
    }
    found
}

pub fn users_ldif(n: usize) -> String {
    let mut s = format!(
        "dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\no: Example\ndc: example\n\n\
         dn: ou=people,{SUFFIX}\nobjectClass: organizationalUnit\nou: people\n\n\
         dn: cn=reader,{SUFFIX}\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\ncn: reader\nuserPassword: reader-pw\n\n"
    );
    for i in 1..=n {
        s.push_str(&format!(
            "dn: uid=user{i:04},ou=people,{SUFFIX}\nobjectClass: inetOrgPerson\nuid: user{i:04}\ncn: First{i:04} Last{i:04}\n\
             givenName: First{i:04}\nsn: Last{i:04}\nmail: user{i:04}@example.com\ntelephoneNumber: +1 408 555 {i:04}\n\n"
        ));
    }
    s
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A CA and a certificate for 127.0.0.1 it signed, made with the openssl command line in `dir`.
pub fn certificates(openssl: &Path, dir: &Path) {
    let run = |args: &[&str]| {
        let out = Command::new(openssl)
            .args(args)
            .current_dir(dir)
            .output()
            .expect("run openssl");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=Dialtone test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
    ]);
}

pub fn start(slapd: &Path, slapadd: &Path, users: usize) -> Slapd {
    start_with(slapd, slapadd, users, None).0
}

/// With `openssl`, also TLS: StartTLS on the LDAP port, and an LDAPS port (the second number).
pub fn start_with(
    slapd: &Path,
    slapadd: &Path,
    users: usize,
    openssl: Option<&Path>,
) -> (Slapd, u16) {
    let dir = std::env::temp_dir().join(format!(
        "dialtone-slapd-{}-{}",
        std::process::id(),
        free_port()
    ));
    std::fs::create_dir_all(dir.join("data")).unwrap();
    let d = dir.display();
    let conf = format!(
        "include /etc/ldap/schema/core.schema\ninclude /etc/ldap/schema/cosine.schema\n\
         include /etc/ldap/schema/nis.schema\ninclude /etc/ldap/schema/inetorgperson.schema\n\
         modulepath /usr/lib/ldap\nmoduleload back_mdb\npidfile {d}/slapd.pid\nargsfile {d}/slapd.args\n\
         database mdb\nmaxsize 104857600\nsuffix \"{SUFFIX}\"\nrootdn \"cn=admin,{SUFFIX}\"\nrootpw admin-pw\n\
         directory {d}/data\nsizelimit size.soft=100 size.hard=100 size.prtotal=unlimited\n"
    );
    let conf = match openssl {
        Some(o) => {
            certificates(o, &dir);
            format!(
                "TLSCACertificateFile {d}/ca.pem\nTLSCertificateFile {d}/server.pem\nTLSCertificateKeyFile {d}/server.key\n{conf}"
            )
        }
        None => conf,
    };
    std::fs::write(dir.join("slapd.conf"), conf).unwrap();
    std::fs::write(dir.join("data.ldif"), users_ldif(users)).unwrap();
    let out = Command::new(slapadd)
        .arg("-f")
        .arg(dir.join("slapd.conf"))
        .arg("-l")
        .arg(dir.join("data.ldif"))
        .output()
        .expect("run slapadd");
    assert!(
        out.status.success(),
        "slapadd: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let port = free_port();
    let tls_port = free_port();
    let urls = if openssl.is_some() {
        format!("ldap://127.0.0.1:{port}/ ldaps://127.0.0.1:{tls_port}/")
    } else {
        format!("ldap://127.0.0.1:{port}/")
    };
    let child = Command::new(slapd)
        .arg("-f")
        .arg(dir.join("slapd.conf"))
        .arg("-h")
        .arg(urls)
        .args(["-d", "0"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run slapd");
    let s = Slapd { child, port, dir };
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "slapd did not start listening"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (s, tls_port)
}

/// Runs `ldapmodify` as the directory's administrator with this LDIF (`changetype:` records).
pub fn modify(d: &Slapd, ldif: &str) {
    let tool = program("ldapmodify").expect("ldapmodify (apt-get install ldap-utils)");
    let mut child = Command::new(tool)
        .args(["-x", "-H", &format!("ldap://127.0.0.1:{}/", d.port)])
        .args(["-D", &format!("cn=admin,{SUFFIX}"), "-w", "admin-pw"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run ldapmodify");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(ldif.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "ldapmodify: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
