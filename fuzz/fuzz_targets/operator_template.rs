//! An operator template (`*.j2` in the templates folder) in place of the built-in default
//! file and the MPP first-contact file, rendered as phones would ask for them.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let src = String::from_utf8_lossy(data).into_owned();
    let (r, _problems) = render::Renderer::with_sources([
        ("xmldefault.cnf.xml.j2".to_string(), src.clone()),
        ("mpp-first-contact.xml.j2".to_string(), src),
    ]);
    let view = render::DefaultView::new(
        vec![render::Server {
            host: "dialtone.example.com".into(),
            sip_port: 5060,
            secure_sip_port: 5061,
            sccp_port: 2000,
        }],
        true,
    );
    // An operator template that fails falls back to the built-in one: never an error.
    let _ = r.render_default(&view);
    let _ = r.render_first_contact("http://dialtone.example.com:6970/$MA.xml");
});
