//! The IVR's prompts: real speech made from text by `scripts/ivr-prompts.py` (espeak-ng), as
//! 8 kHz G.711 µ-law, one set per language Dialtone offers (`model::self_provisioning::IVR_LANGUAGES`).

/// The prompts of one language.
pub(crate) struct Lang {
    pub lang_press: &'static [u8],
    pub welcome: &'static [u8],
    pub ask_id: &'static [u8],
    pub ask_pin: &'static [u8],
    pub ask_pin_or_code: &'static [u8],
    pub again: &'static [u8],
    pub done: &'static [u8],
    pub restart: &'static [u8],
    pub locked: &'static [u8],
    pub refused: &'static [u8],
    pub not_claimable: &'static [u8],
    pub goodbye: &'static [u8],
    pub digits: [&'static [u8]; 10],
}

macro_rules! lang {
    ($l:literal) => {
        Lang {
            lang_press: include_bytes!(concat!("../prompts/", $l, "/lang_press.ulaw")),
            welcome: include_bytes!(concat!("../prompts/", $l, "/welcome.ulaw")),
            ask_id: include_bytes!(concat!("../prompts/", $l, "/ask_id.ulaw")),
            ask_pin: include_bytes!(concat!("../prompts/", $l, "/ask_pin.ulaw")),
            ask_pin_or_code: include_bytes!(concat!("../prompts/", $l, "/ask_pin_or_code.ulaw")),
            again: include_bytes!(concat!("../prompts/", $l, "/again.ulaw")),
            done: include_bytes!(concat!("../prompts/", $l, "/done.ulaw")),
            restart: include_bytes!(concat!("../prompts/", $l, "/restart.ulaw")),
            locked: include_bytes!(concat!("../prompts/", $l, "/locked.ulaw")),
            refused: include_bytes!(concat!("../prompts/", $l, "/refused.ulaw")),
            not_claimable: include_bytes!(concat!("../prompts/", $l, "/not_claimable.ulaw")),
            goodbye: include_bytes!(concat!("../prompts/", $l, "/goodbye.ulaw")),
            digits: [
                include_bytes!(concat!("../prompts/", $l, "/digit_0.ulaw")),
                include_bytes!(concat!("../prompts/", $l, "/digit_1.ulaw")),
                include_bytes!(concat!("../prompts/", $l, "/digit_2.ulaw")),
                include_bytes!(concat!("../prompts/", $l, "/digit_3.ulaw")),
                include_bytes!(concat!("../prompts/", $l, "/digit_4.ulaw")),
                include_bytes!(concat!("../prompts/", $l, "/digit_5.ulaw")),
                include_bytes!(concat!("../prompts/", $l, "/digit_6.ulaw")),
                include_bytes!(concat!("../prompts/", $l, "/digit_7.ulaw")),
                include_bytes!(concat!("../prompts/", $l, "/digit_8.ulaw")),
                include_bytes!(concat!("../prompts/", $l, "/digit_9.ulaw")),
            ],
        }
    };
}

static EN_US: Lang = lang!("en_US");
static FR_FR: Lang = lang!("fr_FR");
static DE_DE: Lang = lang!("de_DE");
static ES_ES: Lang = lang!("es_ES");

/// The prompts of `code` (`en_US`, …); English for a language Dialtone has none in.
pub(crate) fn lang(code: &str) -> &'static Lang {
    match code {
        "fr_FR" => &FR_FR,
        "de_DE" => &DE_DE,
        "es_ES" => &ES_ES,
        _ => &EN_US,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_language_dialtone_offers_has_its_prompts() {
        for code in model::self_provisioning::IVR_LANGUAGES {
            let l = super::lang(code);
            // Speech, not silence: at least a quarter second each, and not one byte repeated.
            for p in [
                l.welcome,
                l.ask_id,
                l.ask_pin,
                l.done,
                l.goodbye,
                l.digits[7],
            ] {
                assert!(p.len() >= 2_000, "{code}: {} bytes", p.len());
                assert!(p.iter().any(|b| *b != p[0]), "{code}");
            }
        }
        assert!(!std::ptr::eq(
            super::lang("fr_FR").welcome,
            super::lang("en_US").welcome
        ));
    }
}
