//! The corporate directory as phones and soft clients search it: no actor (a phone has none),
//! active users only, named and pictured through the LDAP attribute map.

use crate::{Result, Service};
use model::contacts::{ContactPage, ContactSearch};

impl Service {
    /// One page of the directory for `s`; `with_number`: only users with a number to dial (a
    /// phone's directory, whose entries are for dialling).
    pub async fn search_contacts(
        &self,
        s: &ContactSearch,
        with_number: bool,
    ) -> Result<ContactPage> {
        let mut s = s.checked()?;
        let mut c = self.store.read().await?;
        // A caller's number becomes a directory key by the directory lookup rules (seed 003:
        // "transforms 4089023139 into 23139"), as the client would before looking it up.
        let mut looked_up = None;
        if !s.number.is_empty() {
            let rules = self.dial_rules_in(&mut c).await?;
            let r = model::dial_rules::transform(
                &rules,
                model::dial_rules::DialRuleKind::DirectoryLookup,
                &s.number,
                "en_US",
            );
            if let Some(rule) = r
                .rule
                .filter(|_| r.result != s.number && !r.result.is_empty())
            {
                s.number = r.result.clone();
                looked_up = Some((r.result, rule));
            }
        }
        let map = self.ldap_attribute_map_in(&mut c).await?;
        let mut rows = store::directory::contacts(&mut c, &s, with_number).await?;
        let more = rows.len() > s.per_page as usize;
        rows.truncate(s.per_page as usize);
        Ok(ContactPage {
            contacts: rows.iter().map(|r| r.contact(&map)).collect(),
            page: s.page,
            per_page: s.per_page,
            more,
            number_searched: looked_up.as_ref().map(|(n, _)| n.clone()),
            lookup_rule: looked_up.map(|(_, r)| r),
        })
    }
}
