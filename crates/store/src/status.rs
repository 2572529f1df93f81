//! Device status: what each device last fetched, from where, with what.

use crate::Result;
use sqlx::{AnyConnection, Row};

/// One request a device made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub device_id: i64,
    pub at: String,
    pub ip: String,
    pub user_agent: String,
    pub file: String,
    /// `http` or `tftp`.
    pub protocol: String,
    /// Requests since the last record.
    pub requests: i64,
}

/// Records a batch of requests, one statement pair per device.
pub async fn record(conn: &mut AnyConnection, seen: &[Seen]) -> Result<()> {
    for s in seen {
        let n = sqlx::query(
            "UPDATE device_status SET last_seen = $1, last_ip = $2, last_user_agent = $3, last_file = $4, last_protocol = $5, \
             requests = requests + $6 WHERE device_id = $7",
        )
        .bind(&s.at)
        .bind(&s.ip)
        .bind(&s.user_agent)
        .bind(&s.file)
        .bind(&s.protocol)
        .bind(s.requests)
        .bind(s.device_id)
        .execute(&mut *conn)
        .await?
        .rows_affected();
        if n == 0 {
            // The device may have been deleted meanwhile: then there is nothing to record.
            let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM devices WHERE id = $1")
                .bind(s.device_id)
                .fetch_optional(&mut *conn)
                .await?;
            if exists.is_some() {
                sqlx::query(
                    "INSERT INTO device_status (device_id, last_seen, last_ip, last_user_agent, last_file, last_protocol, requests) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(s.device_id)
                .bind(&s.at)
                .bind(&s.ip)
                .bind(&s.user_agent)
                .bind(&s.file)
                .bind(&s.protocol)
                .bind(s.requests)
                .execute(&mut *conn)
                .await?;
            }
        }
    }
    Ok(())
}

pub async fn get(conn: &mut AnyConnection, device_id: i64) -> Result<Option<Seen>> {
    let r = sqlx::query(
        "SELECT device_id, last_seen, last_ip, last_user_agent, last_file, last_protocol, requests FROM device_status WHERE device_id = $1",
    )
    .bind(device_id)
    .fetch_optional(conn)
    .await?;
    r.map(|r| {
        Ok(Seen {
            device_id: r.try_get(0)?,
            at: r.try_get(1)?,
            ip: r.try_get(2)?,
            user_agent: r.try_get(3)?,
            file: r.try_get(4)?,
            protocol: r.try_get(5)?,
            requests: r.try_get(6)?,
        })
    })
    .transpose()
}
