//! HTTP authentication of phones by their own credential (system setting `phone_auth`), Basic
//! (RFC 7617) and Digest (RFC 7616, MD5 and SHA-256, qop `auth`), as MPP phones send them when
//! their profile rule says `[--uid $MA --pwd …]`. The Digest arithmetic is the `digest_auth`
//! crate's; what no crate does for a server is here: the challenge and the nonces.
//!
//! Nonces carry no state: `<unix seconds in hex>.<HMAC of them>`, under a key derived from the
//! installation's secret key, so any node of a cluster accepts another's nonce. A nonce is good
//! for `NONCE_LIFETIME`; after that a correct answer is challenged again with `stale=true`, and
//! the phone retries without asking anyone for the password. Each Digest answer is accepted
//! once: an answer covers its nonce, nonce count, client nonce, method and URI, so a phone
//! reusing a nonce sends a new one, and a captured answer sent again is refused as a replay
//! (with `stale=true`, so the phone itself would just retry). Answers are remembered for the
//! nonce lifetime, on each node: a replay sent to another node of a cluster within it passes.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use digest_auth::{AuthContext, AuthorizationHeader, HttpMethod};
use hmac::{Hmac, Mac};
use service::DeviceCredential;
use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

pub(crate) const REALM: &str = "dialtone phones";
const NONCE_LIFETIME_S: u64 = 300;

/// What a request's credentials are worth.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    Pass,
    /// None were sent.
    Missing,
    /// Right credentials on an expired nonce.
    Stale,
    /// A Digest answer accepted before, sent again.
    Replayed,
    /// Wrong user, wrong password, a nonce this server did not make, or a malformed header.
    Wrong(&'static str),
}

#[derive(Clone)]
pub(crate) struct Nonces {
    key: [u8; 32],
    /// Digest answers accepted within the nonce lifetime: (nonce, response) to when accepted.
    answered: std::sync::Arc<std::sync::Mutex<HashMap<(String, String), u64>>>,
}

/// Accepted answers remembered at most; past it the expired ones go, and if none has, all.
const ANSWERS_KEPT: usize = 200_000;

impl std::fmt::Debug for Nonces {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Nonces(***)")
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Equal without telling by its timing where the first difference is.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Nonces {
    pub(crate) fn new(key: [u8; 32]) -> Nonces {
        Nonces {
            key,
            answered: Default::default(),
        }
    }

    /// Notes an accepted answer; false when it was accepted before.
    fn first_use(&self, nonce: &str, response: &str, at: u64) -> bool {
        let mut m = self.answered.lock().expect("digest answers");
        if m.len() >= ANSWERS_KEPT {
            m.retain(|_, t| at.saturating_sub(*t) <= NONCE_LIFETIME_S);
            if m.len() >= ANSWERS_KEPT {
                m.clear();
            }
        }
        m.insert((nonce.to_string(), response.to_ascii_lowercase()), at)
            .is_none()
    }

    fn sign(&self, stamp: &str) -> String {
        let mut m = <Hmac<sha2::Sha256> as Mac>::new_from_slice(&self.key)
            .expect("HMAC takes a key of any length");
        m.update(stamp.as_bytes());
        let tag = m.finalize().into_bytes();
        tag[..16].iter().map(|b| format!("{b:02x}")).collect()
    }

    fn issue_at(&self, at: u64) -> String {
        let stamp = format!("{at:x}");
        format!("{stamp}.{}", self.sign(&stamp))
    }

    pub(crate) fn issue(&self) -> String {
        self.issue_at(now())
    }

    /// `Some(true)` when fresh, `Some(false)` when expired, `None` when not one of ours.
    fn fresh(&self, nonce: &str, at: u64) -> Option<bool> {
        let (stamp, tag) = nonce.split_once('.')?;
        if !same(self.sign(stamp).as_bytes(), tag.as_bytes()) {
            return None;
        }
        let issued = u64::from_str_radix(stamp, 16).ok()?;
        Some(issued <= at && at - issued <= NONCE_LIFETIME_S)
    }

    /// The `WWW-Authenticate` values of a 401: Digest SHA-256, Digest MD5 (what phones speak),
    /// Basic.
    pub(crate) fn challenges(&self, stale: bool) -> [String; 3] {
        let nonce = self.issue();
        let stale = if stale { ", stale=true" } else { "" };
        [
            format!(
                "Digest realm=\"{REALM}\", qop=\"auth\", algorithm=SHA-256, nonce=\"{nonce}\"{stale}"
            ),
            format!(
                "Digest realm=\"{REALM}\", qop=\"auth\", algorithm=MD5, nonce=\"{nonce}\"{stale}"
            ),
            format!("Basic realm=\"{REALM}\", charset=\"UTF-8\""),
        ]
    }

    /// Checks an `Authorization` header of a `method` request for `uri` (as the request line
    /// has it) against the device's credential.
    pub(crate) fn check(
        &self,
        authorization: Option<&str>,
        method: &str,
        uri: &str,
        cred: &DeviceCredential,
    ) -> Verdict {
        self.check_at(authorization, method, uri, cred, now())
    }

    fn check_at(
        &self,
        authorization: Option<&str>,
        method: &str,
        uri: &str,
        cred: &DeviceCredential,
        at: u64,
    ) -> Verdict {
        let Some(h) = authorization.map(str::trim) else {
            return Verdict::Missing;
        };
        let (scheme, rest) = h.split_once(' ').unwrap_or((h, ""));
        if scheme.eq_ignore_ascii_case("basic") {
            let Some(text) = STANDARD
                .decode(rest.trim())
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
            else {
                return Verdict::Wrong("a Basic header that is not base64 of user:password");
            };
            let Some((user, pass)) = text.split_once(':') else {
                return Verdict::Wrong("a Basic header without `:`");
            };
            if !user.eq_ignore_ascii_case(&cred.username) {
                return Verdict::Wrong("another user name than the device's");
            }
            if !same(pass.as_bytes(), cred.password.expose().as_bytes()) {
                return Verdict::Wrong("a wrong password");
            }
            return Verdict::Pass;
        }
        if !scheme.eq_ignore_ascii_case("digest") {
            return Verdict::Wrong("an authentication scheme other than Basic and Digest");
        }
        let Ok(given) = AuthorizationHeader::parse(rest) else {
            return Verdict::Wrong("a malformed Digest header");
        };
        if given.userhash {
            return Verdict::Wrong(
                "a hashed user name (userhash), which this server does not ask for",
            );
        }
        if given.realm != REALM {
            return Verdict::Wrong("another realm");
        }
        if !given.username.eq_ignore_ascii_case(&cred.username) {
            return Verdict::Wrong("another user name than the device's");
        }
        if given.uri != uri {
            return Verdict::Wrong("a Digest answer for another URI");
        }
        let Some(fresh) = self.fresh(&given.nonce, at) else {
            return Verdict::Wrong("a nonce this server did not give");
        };
        let mut expected = given.clone();
        // The phone's own spelling of its user name (case) is part of what it hashed.
        let ctx = AuthContext::new_with_method(
            given.username.as_str(),
            cred.password.expose(),
            uri,
            None::<&[u8]>,
            HttpMethod(method.into()),
        );
        expected.digest(&ctx);
        if !same(
            expected.response.to_ascii_lowercase().as_bytes(),
            given.response.to_ascii_lowercase().as_bytes(),
        ) {
            return Verdict::Wrong("a wrong password");
        }
        if !fresh {
            Verdict::Stale
        } else if !self.first_use(&given.nonce, &given.response, at) {
            Verdict::Replayed
        } else {
            Verdict::Pass
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use digest_auth::WwwAuthenticateHeader;
    use model::Secret;

    fn cred() -> DeviceCredential {
        DeviceCredential {
            username: "00562b043616".into(),
            password: Secret::new("Ph0ne-pass"),
        }
    }

    /// Answers our challenge as a client does (the crate's client half).
    fn answer(n: &Nonces, which: usize, user: &str, pass: &str, uri: &str) -> String {
        let c = &n.challenges(false)[which];
        let mut w = WwwAuthenticateHeader::parse(c).unwrap();
        let ctx = AuthContext::new(user, pass, uri);
        w.respond(&ctx).unwrap().to_header_string()
    }

    #[test]
    fn digest_md5_and_sha256_pass_with_the_right_password_only() {
        let n = Nonces::new([7; 32]);
        for which in [0, 1] {
            let ok = answer(&n, which, "00562b043616", "Ph0ne-pass", "/00562b043616.xml");
            assert_eq!(
                n.check(Some(&ok), "GET", "/00562b043616.xml", &cred()),
                Verdict::Pass
            );
            // The MAC's case does not matter to the user name.
            let upper = answer(&n, which, "00562B043616", "Ph0ne-pass", "/00562b043616.xml");
            assert_eq!(
                n.check(Some(&upper), "GET", "/00562b043616.xml", &cred()),
                Verdict::Pass
            );
            let bad = answer(&n, which, "00562b043616", "wrong-pass", "/00562b043616.xml");
            assert_eq!(
                n.check(Some(&bad), "GET", "/00562b043616.xml", &cred()),
                Verdict::Wrong("a wrong password")
            );
            let other = answer(&n, which, "00562b043617", "Ph0ne-pass", "/00562b043616.xml");
            assert!(matches!(
                n.check(Some(&other), "GET", "/00562b043616.xml", &cred()),
                Verdict::Wrong(_)
            ));
            // An answer computed for one file does not open another.
            assert_eq!(
                n.check(Some(&ok), "GET", "/00562b043617.xml", &cred()),
                Verdict::Wrong("a Digest answer for another URI")
            );
            // Nor does it open the same file twice: a captured answer is refused.
            assert_eq!(
                n.check(Some(&ok), "GET", "/00562b043616.xml", &cred()),
                Verdict::Replayed
            );
        }
    }

    #[test]
    fn nonces_expire_and_cannot_be_forged() {
        let n = Nonces::new([7; 32]);
        let t0 = 1_800_000_000;
        let nonce = n.issue_at(t0);
        assert_eq!(n.fresh(&nonce, t0 + 10), Some(true));
        assert_eq!(n.fresh(&nonce, t0 + NONCE_LIFETIME_S + 1), Some(false));
        assert_eq!(Nonces::new([8; 32]).fresh(&nonce, t0), None, "another key");
        let forged = format!("{:x}.{}", t0 + 1, nonce.split_once('.').unwrap().1);
        assert_eq!(n.fresh(&forged, t0 + 2), None);
        assert_eq!(n.fresh("garbage", t0), None);
        // A right answer on an expired nonce is stale, not wrong: the phone retries.
        let old = n.issue_at(t0);
        let mut w = WwwAuthenticateHeader::parse(&format!(
            "Digest realm=\"{REALM}\", qop=\"auth\", algorithm=MD5, nonce=\"{old}\""
        ))
        .unwrap();
        let h = w
            .respond(&AuthContext::new("00562b043616", "Ph0ne-pass", "/a.xml"))
            .unwrap()
            .to_header_string();
        assert_eq!(
            n.check_at(Some(&h), "GET", "/a.xml", &cred(), t0 + 1),
            Verdict::Pass
        );
        assert_eq!(
            n.check_at(
                Some(&h),
                "GET",
                "/a.xml",
                &cred(),
                t0 + NONCE_LIFETIME_S + 5
            ),
            Verdict::Stale
        );
    }

    #[test]
    fn basic() {
        let n = Nonces::new([7; 32]);
        let b = |s: &str| format!("Basic {}", STANDARD.encode(s));
        assert_eq!(
            n.check(Some(&b("00562b043616:Ph0ne-pass")), "GET", "/x", &cred()),
            Verdict::Pass
        );
        assert_eq!(
            n.check(Some(&b("00562B043616:Ph0ne-pass")), "GET", "/x", &cred()),
            Verdict::Pass
        );
        assert!(matches!(
            n.check(Some(&b("00562b043616:Ph0ne-pas")), "GET", "/x", &cred()),
            Verdict::Wrong(_)
        ));
        assert!(matches!(
            n.check(Some(&b("admin:Ph0ne-pass")), "GET", "/x", &cred()),
            Verdict::Wrong(_)
        ));
        assert!(matches!(
            n.check(Some("Basic !!!"), "GET", "/x", &cred()),
            Verdict::Wrong(_)
        ));
        assert!(matches!(
            n.check(Some("Bearer abc"), "GET", "/x", &cred()),
            Verdict::Wrong(_)
        ));
        assert!(matches!(
            n.check(Some("Digest username=\"x\""), "GET", "/x", &cred()),
            Verdict::Wrong(_)
        ));
        assert_eq!(n.check(None, "GET", "/x", &cred()), Verdict::Missing);
    }
}
