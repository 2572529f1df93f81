//! Searching a real OpenLDAP `slapd` (Debian `slapd`), started by the test on a free port with
//! its own configuration and data: paged results past the directory's size limit, failover from
//! a dead primary to its backup, and a bad bind password refused with the server's reason.

use dialtone_ldap::{search, Error, Query, Server};
use model::LdapSecurity;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SUFFIX: &str = "dc=example,dc=com";

/// A slapd of the test's own, stopped when dropped.
struct Slapd {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Drop for Slapd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn program(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .chain([PathBuf::from("/usr/sbin")])
        .map(|d| d.join(name))
        .find(|p| p.is_file());
    if found.is_none() {
        if std::env::var("DIALTONE_REQUIRE_PEERS").as_deref() == Ok("1") {
            panic!(
                "DIALTONE_REQUIRE_PEERS=1 but `{name}` is not installed (apt-get install slapd)"
            );
        }
        eprintln!("SKIPPED: `{name}` is not installed (apt-get install slapd)");
    }
    found
}

fn users_ldif(n: usize) -> String {
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

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A CA and a certificate for 127.0.0.1 it signed, made with the openssl command line in `dir`.
fn certificates(openssl: &Path, dir: &Path) {
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

fn start(slapd: &Path, slapadd: &Path, users: usize) -> Slapd {
    start_with(slapd, slapadd, users, None).0
}

/// With `openssl`, also TLS: StartTLS on the LDAP port, and an LDAPS port (the second number).
fn start_with(slapd: &Path, slapadd: &Path, users: usize, openssl: Option<&Path>) -> (Slapd, u16) {
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

fn query(servers: Vec<Server>, password: &str) -> Query {
    Query {
        servers,
        bind: Some((format!("cn=reader,{SUFFIX}"), password.to_string())),
        base: format!("ou=people,{SUFFIX}"),
        recursive: true,
        filter: "(objectClass=inetOrgPerson)".into(),
        attributes: vec!["uid".into(), "givenName".into(), "sn".into(), "mail".into()],
        timeout: Duration::from_secs(5),
        page_size: 50,
    }
}

fn server(name: &str, port: u16) -> Server {
    Server {
        name: name.into(),
        host: "127.0.0.1".into(),
        port,
        security: LdapSecurity::Tcp,
        ca_file: String::new(),
    }
}

#[tokio::test]
async fn a_real_slapd_is_searched_paged_with_failover() {
    let (Some(slapd), Some(slapadd)) = (program("slapd"), program("slapadd")) else {
        return;
    };
    let d = start(&slapd, &slapadd, 300);

    // 300 entries past a size limit of 100, in pages of 50.
    let found = search(&query(vec![server("ldap1", d.port)], "reader-pw"))
        .await
        .unwrap();
    assert_eq!(found.server, "ldap1");
    assert_eq!(found.entries.len(), 300);
    let e = found
        .entries
        .iter()
        .find(|e| e.first("uid") == Some("user0042"))
        .unwrap();
    assert_eq!(e.first("SN"), Some("Last0042"));
    assert_eq!(e.first("mail"), Some("user0042@example.com"));
    assert_eq!(e.dn, format!("uid=user0042,ou=people,{SUFFIX}"));
    // Through OpenLDAP's attribute map, into an empty Dialtone: 300 users to create.
    let map = model::AttributeFields::preset(model::DirectoryType::OpenLdap);
    let mut q = query(vec![server("ldap1", d.port)], "reader-pw");
    q.attributes = dialtone_ldap::sync::attributes(&map);
    let found = search(&q).await.unwrap();
    let plan = dialtone_ldap::sync::plan(&found.entries, &map, &[]);
    assert_eq!(
        plan.summary(),
        "300 to create, 0 to update, 0 unchanged, 0 gone from the directory, 0 skipped"
    );
    let p = plan
        .create
        .iter()
        .find(|p| p.user_id == "user0042")
        .unwrap();
    assert_eq!(
        (
            p.first_name.as_str(),
            p.last_name.as_str(),
            p.telephone_number.as_str()
        ),
        ("First0042", "Last0042", "+1 408 555 0042")
    );

    // A dead primary: the backup answers, and says which did not.
    let dead = free_port();
    let found = search(&query(
        vec![server("dead", dead), server("ldap1", d.port)],
        "reader-pw",
    ))
    .await
    .unwrap();
    assert_eq!(found.server, "ldap1");
    assert_eq!(found.unreachable.len(), 1);
    assert_eq!(found.unreachable[0].0, "dead");
    // Every search starts from the primary again: back on it as soon as it answers.
    let found = search(&query(
        vec![server("ldap1", d.port), server("dead", dead)],
        "reader-pw",
    ))
    .await
    .unwrap();
    assert!(found.unreachable.is_empty());

    // A bad bind password: refused with the server's reason; the backup is not tried.
    let e = search(&query(
        vec![server("ldap1", d.port), server("dead", dead)],
        "wrong",
    ))
    .await
    .unwrap_err();
    match &e {
        Error::Bind { server, why, .. } => {
            assert_eq!(server, "ldap1");
            assert!(
                why.contains("49") || why.to_lowercase().contains("invalid"),
                "{e}"
            );
        }
        other => panic!("{other}"),
    }
    // Nobody answers: each server and why.
    let e = search(&query(vec![server("dead", dead)], "reader-pw"))
        .await
        .unwrap_err();
    assert!(
        matches!(e, Error::Unreachable(ref v) if v.len() == 1),
        "{e}"
    );
    assert!(
        e.to_string()
            .starts_with("no LDAP server of the profile answered: dead ("),
        "{e}"
    );
}

/// TLS with the server's CA given as a file: LDAPS and StartTLS; without the CA (the system's
/// roots do not know it) the server is not trusted, and the error says so.
#[tokio::test]
async fn tls_checks_the_server_against_the_ca_file() {
    let (Some(slapd), Some(slapadd), Some(openssl)) =
        (program("slapd"), program("slapadd"), program("openssl"))
    else {
        return;
    };
    let (d, tls_port) = start_with(&slapd, &slapadd, 5, Some(&openssl));
    let ca = d.dir.join("ca.pem").display().to_string();
    let tls = |security, port, ca_file: &str| Server {
        name: format!("{security:?}"),
        host: "127.0.0.1".into(),
        port,
        security,
        ca_file: ca_file.into(),
    };
    for s in [
        tls(LdapSecurity::Ldaps, tls_port, &ca),
        tls(LdapSecurity::StartTls, d.port, &ca),
    ] {
        let found = search(&query(vec![s.clone()], "reader-pw"))
            .await
            .unwrap_or_else(|e| panic!("{s:?}: {e}"));
        assert_eq!(found.entries.len(), 5, "{s:?}");
    }
    let e = search(&query(
        vec![tls(LdapSecurity::Ldaps, tls_port, "")],
        "reader-pw",
    ))
    .await
    .unwrap_err();
    assert!(matches!(e, Error::Unreachable(_)), "{e}");
    assert!(e.to_string().to_lowercase().contains("certificate"), "{e}");
    let e = search(&query(
        vec![tls(LdapSecurity::Ldaps, tls_port, "/nonexistent/ca.pem")],
        "reader-pw",
    ))
    .await
    .unwrap_err();
    assert!(
        e.to_string().contains("the CA file /nonexistent/ca.pem"),
        "{e}"
    );
}
