#!/usr/bin/env python3
"""Makes the self-provisioning IVR's prompts: real speech from the texts below, by espeak-ng
(Debian: `apt-get install espeak-ng`), as 8 kHz G.711 mu-law (what the IVR sends over RTP), one
raw file per prompt in crates/ivr/prompts/<language>/<name>.ulaw. Run it after changing a text,
and commit what it writes: the server and the tests never need espeak-ng.

    python3 scripts/ivr-prompts.py
"""
import audioop  # deprecated in 3.11, gone in 3.13: Debian 12's python3 has it
import io
import os
import subprocess
import wave

VOICES = {"en_US": "en-us", "fr_FR": "fr-fr", "de_DE": "de", "es_ES": "es"}

TEXTS = {
    "en_US": {
        "lang_press": "For English, press",
        "welcome": "Welcome to self-provisioning.",
        "ask_id": "Enter your self-provisioning ID, then press the pound key.",
        "ask_pin": "Enter your PIN, then press the pound key.",
        "ask_pin_or_code": "Enter your PIN or the authentication code, then press the pound key.",
        "again": "Sorry, that was not right. Please try again.",
        "done": "This phone is now yours. Your extension is",
        "restart": "The phone restarts with your settings. Goodbye.",
        "locked": "Too many wrong entries. Please try again later. Goodbye.",
        "refused": "This phone cannot be provisioned for you. Please ask your administrator. Goodbye.",
        "not_claimable": "This phone is already provisioned. Goodbye.",
        "goodbye": "Goodbye.",
    },
    "fr_FR": {
        "lang_press": "Pour le français, tapez",
        "welcome": "Bienvenue dans l'auto-provisionnement.",
        "ask_id": "Entrez votre identifiant d'auto-provisionnement, puis la touche dièse.",
        "ask_pin": "Entrez votre code PIN, puis la touche dièse.",
        "ask_pin_or_code": "Entrez votre code PIN ou le code d'authentification, puis la touche dièse.",
        "again": "Désolé, ce n'est pas correct. Veuillez réessayer.",
        "done": "Ce téléphone est maintenant le vôtre. Votre poste est le",
        "restart": "Le téléphone redémarre avec vos paramètres. Au revoir.",
        "locked": "Trop d'erreurs. Veuillez réessayer plus tard. Au revoir.",
        "refused": "Ce téléphone ne peut pas être provisionné pour vous. Contactez votre administrateur. Au revoir.",
        "not_claimable": "Ce téléphone est déjà provisionné. Au revoir.",
        "goodbye": "Au revoir.",
    },
    "de_DE": {
        "lang_press": "Für Deutsch drücken Sie die",
        "welcome": "Willkommen bei der Selbstbereitstellung.",
        "ask_id": "Geben Sie Ihre Selbstbereitstellungs-ID ein und drücken Sie die Rautetaste.",
        "ask_pin": "Geben Sie Ihre PIN ein und drücken Sie die Rautetaste.",
        "ask_pin_or_code": "Geben Sie Ihre PIN oder den Authentifizierungscode ein und drücken Sie die Rautetaste.",
        "again": "Das war leider nicht richtig. Bitte versuchen Sie es noch einmal.",
        "done": "Dieses Telefon gehört jetzt Ihnen. Ihre Durchwahl ist",
        "restart": "Das Telefon startet mit Ihren Einstellungen neu. Auf Wiederhören.",
        "locked": "Zu viele falsche Eingaben. Bitte versuchen Sie es später noch einmal. Auf Wiederhören.",
        "refused": "Dieses Telefon kann nicht für Sie bereitgestellt werden. Wenden Sie sich an Ihren Administrator. Auf Wiederhören.",
        "not_claimable": "Dieses Telefon ist bereits eingerichtet. Auf Wiederhören.",
        "goodbye": "Auf Wiederhören.",
    },
    "es_ES": {
        "lang_press": "Para español, pulse",
        "welcome": "Bienvenido al autoaprovisionamiento.",
        "ask_id": "Introduzca su identificador de autoaprovisionamiento y pulse la tecla almohadilla.",
        "ask_pin": "Introduzca su PIN y pulse la tecla almohadilla.",
        "ask_pin_or_code": "Introduzca su PIN o el código de autenticación y pulse la tecla almohadilla.",
        "again": "Lo siento, no es correcto. Inténtelo de nuevo.",
        "done": "Este teléfono ya es suyo. Su extensión es",
        "restart": "El teléfono se reinicia con su configuración. Adiós.",
        "locked": "Demasiados intentos fallidos. Inténtelo más tarde. Adiós.",
        "refused": "Este teléfono no se puede aprovisionar para usted. Consulte a su administrador. Adiós.",
        "not_claimable": "Este teléfono ya está aprovisionado. Adiós.",
        "goodbye": "Adiós.",
    },
}

DIGITS = {
    "en_US": ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"],
    "fr_FR": ["zéro", "un", "deux", "trois", "quatre", "cinq", "six", "sept", "huit", "neuf"],
    "de_DE": ["null", "eins", "zwei", "drei", "vier", "fünf", "sechs", "sieben", "acht", "neun"],
    "es_ES": ["cero", "uno", "dos", "tres", "cuatro", "cinco", "seis", "siete", "ocho", "nueve"],
}


def speak(voice: str, text: str) -> bytes:
    wav = subprocess.run(
        ["espeak-ng", "-v", voice, "-s", "170", "--stdout", text],
        check=True,
        capture_output=True,
    ).stdout
    with wave.open(io.BytesIO(wav)) as w:
        assert w.getsampwidth() == 2 and w.getnchannels() == 1
        frames = w.readframes(w.getnframes())
        rate = w.getframerate()
    pcm, _ = audioop.ratecv(frames, 2, 1, rate, 8000, None)
    # The silence espeak-ng puts around speech, down to 40 ms each side: the IVR paces its own.
    samples = [int.from_bytes(pcm[i : i + 2], "little", signed=True) for i in range(0, len(pcm), 2)]
    loud = [i for i, v in enumerate(samples) if abs(v) > 300]
    if loud:
        start = max(0, loud[0] - 320)
        end = min(len(samples), loud[-1] + 320)
        pcm = pcm[start * 2 : end * 2]
    return audioop.lin2ulaw(pcm, 2)


def main() -> None:
    root = os.path.join(os.path.dirname(__file__), "..", "crates", "ivr", "prompts")
    total = 0
    for lang, voice in VOICES.items():
        d = os.path.join(root, lang)
        os.makedirs(d, exist_ok=True)
        texts = dict(TEXTS[lang])
        for i, word in enumerate(DIGITS[lang]):
            texts[f"digit_{i}"] = word
        for name, text in texts.items():
            data = speak(voice, text)
            with open(os.path.join(d, f"{name}.ulaw"), "wb") as f:
                f.write(data)
            total += len(data)
    print(f"{total} bytes of prompts ({total / 8000:.0f} s of speech)")


if __name__ == "__main__":
    main()
