//! Searching a real OpenLDAP `slapd` (Debian `slapd`), started by the test on a free port with
//! its own configuration and data: paged results past the directory's size limit, failover from
//! a dead primary to its backup, and a bad bind password refused with the server's reason.

#[path = "support/slapd.rs"]
mod support;

use dialtone_ldap::{search, Error, Query, Server};
use model::LdapSecurity;
use std::time::Duration;
use support::*;

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
    let plan = dialtone_ldap::sync::plan(&found.entries, &map, "corp", &[]);
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
            p.fields.first_name.as_str(),
            p.fields.last_name.as_str(),
            p.fields.telephone_number.as_str()
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
