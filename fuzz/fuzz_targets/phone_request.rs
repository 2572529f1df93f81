//! What a phone's request names: the path (HTTP) or file name (TFTP) and its User-Agent, read
//! to find the device, the family and the model.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (path, ua) = text.split_once('\n').unwrap_or((&text, ""));
    if let Some(name) = tftp::clean_name(path) {
        let _ = render::family::identify(name);
        let _ = render::family::model_of_request(name, Some(ua));
        let _ = render::family::model_of_request(name, None);
    }
    let _ = render::family::identify(path);
    let _ = render::family::device_from_user_agent(ua);
    for kind in [
        model::DeviceFamily::Enterprise,
        model::DeviceFamily::Mpp,
        model::DeviceFamily::SoftClient,
        model::DeviceFamily::Yealink,
        model::DeviceFamily::Polycom,
        model::DeviceFamily::Grandstream,
        model::DeviceFamily::Snom,
    ] {
        let _ = render::family::family_of_pattern(path, kind);
    }
});
