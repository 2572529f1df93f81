//! Do Not Disturb (seed 003, "Do Not Disturb Behavior"), on both backends: a user's DND set and
//! cleared on every phone associated with them (a phone shared with another user too), in the
//! files the phones fetch (enterprise `dndControl`, MPP `DND_Setting`); and the call outcome
//! explainer, a test per row of the seed's Table 2-2.

mod common;

use common::TestApp;
use reqwest::StatusCode;
use serde_json::{json, Value};
use store::testing::TestDb;

async fn outcome(t: &TestApp, line: &str) -> Value {
    let (s, v) = t.get(&format!("/api/v1/lines/{line}/call-outcome")).await;
    assert_eq!(s, StatusCode::OK, "[{}] {v}", t.label);
    v
}

async fn dnd(t: &TestApp, phone: &str, mode: &str) {
    let (_, p) = t.get(&format!("/api/v1/phones/{phone}")).await;
    let (s, v) = t
        .patch(
            &format!("/api/v1/phones/{phone}"),
            json!({"version": p["version"], "dnd": mode}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "[{}] {v}", t.label);
}

async fn forwards(t: &TestApp, line: &str, busy: &str, no_answer: &str) {
    let (_, l) = t.get(&format!("/api/v1/lines/{line}")).await;
    let (s, v) = t
        .patch(
            &format!("/api/v1/lines/{line}"),
            json!({"version": l["version"], "forward_busy_internal": busy, "forward_no_answer_internal": no_answer}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "[{}] {v}", t.label);
}

#[tokio::test]
async fn a_users_dnd_reaches_every_associated_phone_and_its_file() {
    for db in TestDb::all().await {
        let t = TestApp::spawn(&db).await;
        let l = t.label;
        for u in ["ann", "bob"] {
            t.create("/api/v1/users", json!({"user_id": u, "last_name": u}))
                .await;
        }
        // Ann's desk phone (shared with Bob), her MPP phone and her soft phone; Bob's own phone.
        t.create("/api/v1/phones", json!({"mac": "00562B0D0001", "model": "7960", "protocol": "SIP", "owner_user_id": "ann", "lines": [{"pattern": "4001"}]})).await;
        t.create("/api/v1/phones", json!({"mac": "00562B0D0002", "model": "8861", "owner_user_id": "ann", "lines": [{"pattern": "4001"}]})).await;
        t.create(
            "/api/v1/phones",
            json!({"model": "CUPC", "owner_user_id": "ann", "primary_phone": "SEP00562B0D0001"}),
        )
        .await;
        t.create("/api/v1/phones", json!({"mac": "00562B0D0003", "model": "7960", "protocol": "SIP", "owner_user_id": "bob"})).await;
        let (_, b) = t.get("/api/v1/users/bob").await;
        let (s, v) = t
            .patch(
                "/api/v1/users/bob",
                json!({"version": b["version"], "devices": ["SEP00562B0D0003", "SEP00562B0D0001"]}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "[{l}] {v}");
        assert!(t
            .file_preview("SEP00562B0D0001", "SEP00562B0D0001.cnf.xml")
            .await
            .contains("<dndControl>0</dndControl>"));
        assert!(t
            .file_preview("SEP00562B0D0002", "00562b0d0002.xml")
            .await
            .contains("<DND_Setting ua=\"rw\">No</DND_Setting>"));

        // Ann sets DND: her three phones, the one she shares with Bob included; not Bob's own.
        let (s, r) = t
            .put("/api/v1/users/ann/dnd", json!({"dnd": "call_reject"}))
            .await;
        assert_eq!(s, StatusCode::OK, "[{l}] {r}");
        assert_eq!(
            r["devices"],
            json!(["SEP00562B0D0001", "SEP00562B0D0002", "UPCANN"]),
            "[{l}] {r}"
        );
        assert_eq!(r["changed"], r["devices"]);
        for p in ["SEP00562B0D0001", "SEP00562B0D0002", "UPCANN"] {
            assert_eq!(
                t.get(&format!("/api/v1/phones/{p}")).await.1["dnd"],
                "call_reject",
                "[{l}] {p}"
            );
        }
        assert_eq!(
            t.get("/api/v1/phones/SEP00562B0D0003").await.1["dnd"],
            "off"
        );
        assert!(
            t.file_preview("SEP00562B0D0001", "SEP00562B0D0001.cnf.xml")
                .await
                .contains("<dndControl>2</dndControl>"),
            "[{l}]"
        );
        assert!(
            t.file_preview("SEP00562B0D0002", "00562b0d0002.xml")
                .await
                .contains("<DND_Setting ua=\"rw\">Yes</DND_Setting>"),
            "[{l}]"
        );

        // Bob clears his: every endpoint associated with him, even the one Ann also uses.
        let (_, r) = t.put("/api/v1/users/bob/dnd", json!({"dnd": "off"})).await;
        assert_eq!(r["changed"], json!(["SEP00562B0D0001"]), "[{l}] {r}");
        assert!(
            t.file_preview("SEP00562B0D0001", "SEP00562B0D0001.cnf.xml")
                .await
                .contains("<dndControl>0</dndControl>"),
            "[{l}]"
        );
        // Ringer off on the MPP phone (a mode it does not have) leaves its DND off.
        let (_, r) = t
            .put("/api/v1/users/ann/dnd", json!({"dnd": "ringer_off"}))
            .await;
        assert_eq!(r["changed"].as_array().unwrap().len(), 3, "[{l}] {r}");
        assert!(t
            .file_preview("SEP00562B0D0001", "SEP00562B0D0001.cnf.xml")
            .await
            .contains("<dndControl>1</dndControl>"));
        assert!(t
            .file_preview("SEP00562B0D0002", "00562b0d0002.xml")
            .await
            .contains("<DND_Setting ua=\"rw\">No</DND_Setting>"));

        // The MPP file carries the line's forwards (User > Call Forward), its shared appearance
        // and the speed dials on their line keys.
        forwards(&t, "4001", "7000", "8000").await;
        let (_, m) = t.get("/api/v1/phones/SEP00562B0D0002").await;
        let (s, v) = t
            .patch(
                "/api/v1/phones/SEP00562B0D0002",
                json!({"version": m["version"], "speed_dials": [{"position": 3, "number": "5550100", "label": "Home"},
                    {"position": 4, "number": "4002", "label": "Bob", "blf": true}]}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "[{l}] {v}");
        let mpp = t.file_preview("SEP00562B0D0002", "00562b0d0002.xml").await;
        for want in [
            "<Extended_Function_4_ ua=\"na\">fnc=blf+sd+cp;sub=4002@$PROXY;ext=4002@$PROXY;nme=Bob</Extended_Function_4_>",
            "<Call_Appearances_Per_Line ua=\"na\">4</Call_Appearances_Per_Line>",
        ] {
            assert!(mpp.contains(want), "[{l}] {want} in {mpp}");
        }
        // The same speed dials on an enterprise phone: feature 2, and 21 with busy lamp field.
        let (_, e) = t.get("/api/v1/phones/SEP00562B0D0001").await;
        t.patch(
            "/api/v1/phones/SEP00562B0D0001",
            json!({"version": e["version"], "speed_dials": [{"position": 3, "number": "5550100", "label": "Home"},
                {"position": 4, "number": "4002", "label": "Bob", "blf": true}]}),
        )
        .await;
        let ent = t
            .file_preview("SEP00562B0D0001", "SEP00562B0D0001.cnf.xml")
            .await;
        let doc = roxmltree::Document::parse(&ent).unwrap();
        let keys: Vec<(String, String)> = doc
            .descendants()
            .filter(|n| {
                n.has_tag_name("line") && n.children().any(|c| c.has_tag_name("speedDialNumber"))
            })
            .map(|n| {
                let get = |t: &str| {
                    n.children()
                        .find(|c| c.has_tag_name(t))
                        .and_then(|c| c.text())
                        .unwrap_or("")
                        .to_string()
                };
                (get("featureID"), get("featureOptionMask"))
            })
            .collect();
        assert_eq!(
            keys,
            [
                ("2".to_string(), String::new()),
                ("21".to_string(), "0".to_string())
            ],
            "[{l}] {ent}"
        );
        // A forward to voicemail is the system's voicemail pilot on the phone.
        let (_, sys) = t.get("/api/v1/systems/default").await;
        let (s, v) = t
            .patch(
                "/api/v1/systems/default",
                json!({"version": sys["version"], "settings": {"voicemail_pilot": "8999"}}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "[{l}] {v}");
        forwards(&t, "4001", "7000", "voicemail").await;
        let vm = t.file_preview("SEP00562B0D0002", "00562b0d0002.xml").await;
        assert!(
            vm.contains("<Cfwd_No_Answer_Dest ua=\"rw\">8999</Cfwd_No_Answer_Dest>"),
            "[{l}] {vm}"
        );
        forwards(&t, "4001", "7000", "8000").await;
        let mpp = t.file_preview("SEP00562B0D0002", "00562b0d0002.xml").await;
        for want in [
            "<Cfwd_Busy ua=\"rw\">Yes</Cfwd_Busy>",
            "<Cfwd_Busy_Dest ua=\"rw\">7000</Cfwd_Busy_Dest>",
            "<Cfwd_No_Answer_Dest ua=\"rw\">8000</Cfwd_No_Answer_Dest>",
            "<Cfwd_All ua=\"rw\">No</Cfwd_All>",
            "<Share_Ext_1_ ua=\"na\">Yes</Share_Ext_1_>",
            "<Shared_User_ID_1_ ua=\"na\">4001</Shared_User_ID_1_>",
            "<Extension_3_ ua=\"na\">Disabled</Extension_3_>",
            "<Extended_Function_3_ ua=\"na\">fnc=sd;ext=5550100@$PROXY;nme=Home</Extended_Function_3_>",
        ] {
            assert!(mpp.contains(want), "[{l}] {want} in {mpp}");
        }

        // Wrong input is said.
        let (s, v) = t
            .put("/api/v1/users/ann/dnd", json!({"dnd": "silent"}))
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "[{l}] {v}");
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("call_reject"),
            "[{l}] {v}"
        );
        assert_eq!(
            t.put("/api/v1/users/nobody/dnd", json!({"dnd": "off"}))
                .await
                .0,
            StatusCode::NOT_FOUND
        );
        let (_, a) = t.get("/api/v1/audit?target=ann").await;
        assert!(a.to_string().contains("update"), "[{l}] audited: {a}");
        t.stop().await;
    }
}

/// Seed 003, Table 2-2, row by row.
#[tokio::test]
async fn the_call_outcome_follows_the_seeds_dnd_table() {
    for db in TestDb::all().await {
        let t = TestApp::spawn(&db).await;
        let l = t.label;
        for u in ["ann", "bob"] {
            t.create("/api/v1/users", json!({"user_id": u, "last_name": u}))
                .await;
        }
        // Line 5001 on Ann's soft phone alone (soft-phone mode).
        t.create(
            "/api/v1/phones",
            json!({"model": "CUPC", "owner_user_id": "ann", "lines": [{"pattern": "5001"}]}),
        )
        .await;
        forwards(&t, "5001", "7000", "8000").await;
        let o = outcome(&t, "5001").await;
        assert_eq!(
            (o["mode"].as_str(), o["outcome"].as_str()),
            (Some("soft_phone"), Some("rings")),
            "[{l}] {o}"
        );

        // Row 1: soft-phone mode set to DND: rejected, diverted to CFNA; without CFNA, busy.
        dnd(&t, "UPCANN", "call_reject").await;
        let o = outcome(&t, "5001").await;
        assert_eq!(
            (o["outcome"].as_str(), o["target"].as_str()),
            (Some("forwarded"), Some("8000")),
            "[{l}] {o}"
        );
        assert_eq!(o["endpoints"][0]["alert"], "none");
        forwards(&t, "5001", "7000", "").await;
        let o = outcome(&t, "5001").await;
        assert_eq!(o["outcome"], "busy", "[{l}] {o}");
        assert!(o["explanation"][0].as_str().unwrap().contains("busy tone"));

        // Row 1, shared line: the endpoints not in call reject are alerted, the caller hears
        // ringing; every endpoint (soft clients only) in DND: CFNA.
        t.create(
            "/api/v1/phones",
            json!({"model": "CUPC", "owner_user_id": "bob", "lines": [{"pattern": "5001"}]}),
        )
        .await;
        forwards(&t, "5001", "7000", "8000").await;
        let o = outcome(&t, "5001").await;
        assert_eq!(o["outcome"], "rings", "[{l}] {o}");
        let alerts: Vec<&str> = o["endpoints"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["alert"].as_str().unwrap())
            .collect();
        assert_eq!(alerts, ["none", "audible"], "[{l}] {o}");
        dnd(&t, "UPCBOB", "call_reject").await;
        let o = outcome(&t, "5001").await;
        assert_eq!(
            (o["mode"].as_str(), o["target"].as_str()),
            (Some("soft_phone"), Some("8000")),
            "[{l}] {o}"
        );

        // Row 2: desk-phone mode, DND Call Reject: shared with a phone not rejecting, it rings
        // there; every endpoint rejecting, the call goes to CFB; no CFB, busy.
        t.create("/api/v1/phones", json!({"mac": "00562B0E0001", "model": "7960", "protocol": "SIP", "owner_user_id": "ann", "lines": [{"pattern": "5001"}]})).await;
        let o = outcome(&t, "5001").await;
        assert_eq!(
            (o["mode"].as_str(), o["outcome"].as_str()),
            (Some("desk_phone"), Some("rings")),
            "[{l}] {o}"
        );
        assert_eq!(
            (o["unanswered"].as_str(), o["unanswered_target"].as_str()),
            (Some("forwarded"), Some("8000"))
        );
        dnd(&t, "SEP00562B0E0001", "call_reject").await;
        let o = outcome(&t, "5001").await;
        assert_eq!(
            (o["outcome"].as_str(), o["target"].as_str()),
            (Some("forwarded"), Some("7000")),
            "[{l}] {o}"
        );
        forwards(&t, "5001", "", "8000").await;
        assert_eq!(outcome(&t, "5001").await["outcome"], "busy");

        // Row 3: desk-phone mode, DND Ringer Off: shown without an audio alert; unanswered to
        // CFNA; without CFNA, rejected with a busy tone.
        dnd(&t, "SEP00562B0E0001", "ringer_off").await;
        let o = outcome(&t, "5001").await;
        assert_eq!(o["outcome"], "rings", "[{l}] {o}");
        assert_eq!(
            o["endpoints"]
                .as_array()
                .unwrap()
                .iter()
                .find(|e| e["device"] == "SEP00562B0E0001")
                .unwrap()["alert"],
            "silent"
        );
        assert_eq!(
            (o["unanswered"].as_str(), o["unanswered_target"].as_str()),
            (Some("forwarded"), Some("8000")),
            "[{l}] {o}"
        );
        forwards(&t, "5001", "", "").await;
        let o = outcome(&t, "5001").await;
        assert_eq!(o["unanswered"], "busy", "[{l}] {o}");

        // Which forwards: external callers use the external ones; a wrong caller is said.
        let (s, _) = t
            .get("/api/v1/lines/5001/call-outcome?caller=external")
            .await;
        assert_eq!(s, StatusCode::OK);
        let (s, v) = t.get("/api/v1/lines/5001/call-outcome?caller=nobody").await;
        assert_eq!(
            (s, v["error"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("caller"))
        );
        assert_eq!(
            t.get("/api/v1/lines/9999/call-outcome").await.0,
            StatusCode::NOT_FOUND
        );
        t.stop().await;
    }
}
