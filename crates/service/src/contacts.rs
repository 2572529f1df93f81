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
        let s = s.checked()?;
        let mut c = self.store.read().await?;
        let map = self.ldap_attribute_map_in(&mut c).await?;
        let mut rows = store::directory::contacts(&mut c, &s, with_number).await?;
        let more = rows.len() > s.per_page as usize;
        rows.truncate(s.per_page as usize);
        Ok(ContactPage {
            contacts: rows.iter().map(|r| r.contact(&map)).collect(),
            page: s.page,
            per_page: s.per_page,
            more,
        })
    }
}
